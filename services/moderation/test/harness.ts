import { randomUUID } from "node:crypto";
import { type DescMessage, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createTestSigner } from "@kindred/auth/testing";
import {
  circlesEvents,
  circlesStream,
  contentEvents,
  contentStream,
  identityEvents,
  identityStream,
} from "@kindred/event-catalog";
import { type EventType, eventNamespace, type StreamSpec, subjectIn } from "@kindred/events";
import { CircleRole } from "@kindred/proto/circles/v1";
import { ModerationService } from "@kindred/proto/moderation/v1";
import {
  deleteNamespaceStreams,
  publishTestEvent,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { buildApp, type ModerationApp } from "../src/app.ts";
import { loadModerationConfig } from "../src/config.ts";

export type Moderation = Client<typeof ModerationService>;

export interface TestUser {
  id: string;
  m: Moderation;
}

/**
 * One moderation service on its own database and event namespace, with a test token signer and
 * a clock tests can move forward (claims, appeal windows). Other services are played by events
 * published straight to their streams; moderation's own events are read from its outbox.
 */
export async function startModeration(extra: Record<string, string> = {}) {
  const db = await createTestDatabase("moderation");
  const namespace = eventNamespace(uniqueName("moderation"));
  const signer = await createTestSigner();
  let offsetMs = 0;
  const config = loadModerationConfig(
    testServiceEnv({
      database: db,
      extra: {
        EVENTS_NAMESPACE: namespace.prefix,
        AUTH_JWKS: signer.jwks,
        SCAN_POLL_MS: "200",
        MODERATION_SWEEP_MS: "100",
        ...extra,
      },
    }),
  );
  const app: ModerationApp = buildApp(config, { now: () => new Date(Date.now() + offsetMs) });
  const host = await startReady(app.host);
  const url = `http://127.0.0.1:${host.ports.port}`;

  async function user(roles: string[] = ["member"], id: string = randomUUID()): Promise<TestUser> {
    const token = await signer.mint({ sub: id, sid: randomUUID(), roles, expiresInSeconds: 3_600 });
    const transport = createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    return { id, m: createClient(ModerationService, transport) };
  }

  async function publish<Desc extends DescMessage>(
    stream: StreamSpec,
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
    aggregateId: string,
  ) {
    return publishTestEvent({
      natsUrl: testEnv.natsUrl,
      namespace,
      stream,
      event,
      message,
      aggregateId,
    });
  }

  /** An account identity announced (report targets, account age). */
  async function registered(userId: string, createdAt = new Date(Date.now() - 30 * 86_400_000)) {
    await publish(
      identityStream,
      identityEvents.userRegistered,
      {
        userId,
        displayName: `user ${userId.slice(0, 8)}`,
        createdAt: timestampFromDate(createdAt),
      },
      userId,
    );
    await waitFor(() =>
      app.deps.db.kysely
        .selectFrom("account")
        .select("user_id")
        .where("user_id", "=", userId)
        .executeTakeFirst(),
    );
  }

  let circleVersion = 0n;
  /** A circle with an owner and, optionally, moderators, as circles announced them. */
  async function circle(ownerId: string, moderators: string[] = []) {
    const circleId = randomUUID();
    circleVersion += 1n;
    await publish(
      circlesStream,
      circlesEvents.circleCreated,
      { circleId, name: "Night owls", ownerId, circleVersion },
      circleId,
    );
    const staff = [
      { userId: ownerId, role: CircleRole.OWNER },
      ...moderators.map((userId) => ({ userId, role: CircleRole.MODERATOR })),
    ];
    for (const { userId, role } of staff) {
      circleVersion += 1n;
      await publish(
        circlesStream,
        circlesEvents.memberJoined,
        { circleId, userId, role, circleVersion },
        circleId,
      );
    }
    await waitFor(async () => {
      const rows = await app.deps.db.kysely
        .selectFrom("circle_role")
        .select("user_id")
        .where("circle_id", "=", circleId)
        .execute();
      const info = await app.deps.db.kysely
        .selectFrom("circle_info")
        .select("circle_id")
        .where("circle_id", "=", circleId)
        .executeTakeFirst();
      return rows.length === staff.length && info !== undefined ? true : undefined;
    });
    return circleId;
  }

  /** A post content announced; resolves once the scanner has scanned it. */
  async function post(circleId: string, authorId: string, body: string) {
    const postId = randomUUID();
    await publish(
      contentStream,
      contentEvents.postCreated,
      {
        postId,
        circleId,
        authorId,
        body,
        version: 1n,
        createdAt: timestampFromDate(new Date()),
      },
      postId,
    );
    await scanned("post", postId);
    return postId;
  }

  /** A response content announced; resolves once the scanner has scanned it. */
  async function response(circleId: string, postId: string, authorId: string, body: string) {
    const responseId = randomUUID();
    await publish(
      contentStream,
      contentEvents.responseCreated,
      {
        responseId,
        postId,
        circleId,
        postAuthorId: authorId,
        authorId,
        body,
        createdAt: timestampFromDate(new Date()),
      },
      postId,
    );
    await scanned("response", responseId);
    return responseId;
  }

  async function scanned(kind: "post" | "response", contentId: string) {
    await waitFor(
      () =>
        app.deps.db.kysely
          .selectFrom("scan_item")
          .select("status")
          .where("content_kind", "=", kind)
          .where("content_id", "=", contentId)
          .where("status", "=", "scanned")
          .executeTakeFirst(),
      { what: `the ${kind} scanned` },
    );
  }

  /** Moderation's own events of one type, oldest first, from its outbox. */
  async function events<Desc extends DescMessage>(event: EventType<Desc>) {
    const rows = await app.deps.db.kysely
      .selectFrom("event_outbox")
      .select(["payload"])
      .where("subject", "=", subjectIn(namespace, event.subject))
      .orderBy("seq")
      .execute();
    return rows.map((r) => fromBinary(event.schema, r.payload));
  }

  return {
    app,
    namespace,
    user,
    publish,
    registered,
    circle,
    post,
    response,
    events,
    /** Moves the service's clock forward. */
    advance(ms: number) {
      offsetMs += ms;
    },
    async [Symbol.asyncDispose]() {
      await host.stop();
      await deleteNamespaceStreams(testEnv.natsUrl, namespace);
      await db[Symbol.asyncDispose]();
    },
  };
}

export type ModerationHarness = Awaited<ReturnType<typeof startModeration>>;
