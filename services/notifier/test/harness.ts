import { randomUUID } from "node:crypto";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createTestSigner } from "@kindred/auth/testing";
import {
  circlesEvents,
  circlesStream,
  contentEvents,
  contentStream,
  identityStream,
  moderationStream,
} from "@kindred/event-catalog";
import {
  applyTopology,
  type EventMetadata,
  type EventType,
  eventNamespace,
  type StreamSpec,
} from "@kindred/events";
import { CircleRole } from "@kindred/proto/circles/v1";
import { NotifierService, Platform } from "@kindred/proto/notifier/v1";
import {
  deleteNamespaceStreams,
  publishTestEvent,
  redeliverTestEvent,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "vitest";
import { buildApp, type NotifierApp } from "../src/app.ts";
import { loadNotifierConfig } from "../src/config.ts";
import type { PlatformName } from "../src/db/schema.ts";
import type { PushProvider } from "../src/push/types.ts";
import { FakePushProvider } from "./fake-push-provider.ts";

export type Notifier = Client<typeof NotifierService>;

export interface TestUser {
  id: string;
  n: Notifier;
}

export interface StartOptions {
  /** More environment (`DISPATCH_MAX_ATTEMPTS`, …). */
  extra?: Record<string, string>;
  /** Platforms that get a fake provider (default both). */
  platforms?: PlatformName[];
  /**
   * `false`: the dispatcher only runs when a test calls `drain()`, so pushes stay queued until
   * then (for drops). Default: it runs, woken by every consumer that queued something.
   */
  autoDispatch?: boolean;
  /** Use the APNs and FCM providers that config (`extra`) describes instead of fakes. */
  configuredProviders?: boolean;
}

/** The streams of the services notifier listens to, created before it starts. */
async function createProducerStreams(namespace: string) {
  const nc = await connect({ servers: testEnv.natsUrl });
  try {
    await applyTopology(
      await jetstreamManager(nc),
      [contentStream, circlesStream, identityStream, moderationStream],
      { replicas: 1, maxBytes: -1, namespace: eventNamespace(namespace), logger: { info() {} } },
    );
  } finally {
    await nc.close();
  }
}

/**
 * One notifier on its own database and event namespace, with a test token signer and fake push
 * providers. Other services are played by events published straight to their streams.
 */
export async function startNotifier(options: StartOptions = {}) {
  const db = await createTestDatabase("notifier");
  const namespace = uniqueName("notifier");
  const signer = await createTestSigner();
  await createProducerStreams(namespace);
  const ios = new FakePushProvider("ios");
  const android = new FakePushProvider("android");
  const platforms = options.platforms ?? ["ios", "android"];
  const providers: Partial<Record<PlatformName, PushProvider>> = {};
  if (platforms.includes("ios")) providers.ios = ios;
  if (platforms.includes("android")) providers.android = android;
  const app: NotifierApp = buildApp(
    loadNotifierConfig(
      testServiceEnv({
        database: db,
        extra: {
          EVENTS_NAMESPACE: namespace,
          AUTH_JWKS: signer.jwks,
          DISPATCH_POLL_MS: "100",
          ...options.extra,
        },
      }),
    ),
    {
      ...(options.configuredProviders === true ? {} : { providers }),
      startDispatcher: options.autoDispatch ?? true,
    },
  );
  await startReady(app.host);
  const kysely = app.deps.db.kysely;

  const clientWith = (headers: Record<string, string>): Notifier =>
    createClient(
      NotifierService,
      createConnectTransport({
        baseUrl: app.host.url,
        httpVersion: "1.1",
        interceptors: [
          (next) => (req) => {
            for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
            return next(req);
          },
        ],
      }),
    );

  async function user(id: string = randomUUID()): Promise<TestUser> {
    const token = await signer.mint({ sub: id, sid: randomUUID(), roles: ["member"] });
    return { id, n: clientWith({ authorization: `Bearer ${token}` }) };
  }

  /** A device of `u` on `platform`; returns its id and token. */
  async function device(u: TestUser, platform: PlatformName, locale = "en-GB") {
    const token = `${platform}-token-${randomUUID()}`;
    const { device: d } = await u.n.registerDevice({
      platform: platform === "ios" ? Platform.IOS : Platform.ANDROID,
      token,
      locale,
      appVersion: "1.4.2",
    });
    return { id: d?.id ?? "", token };
  }

  const settled = () => Promise.all(app.events.consumers.map((c) => c.idle()));

  /**
   * Publishes an event of another service as its relay would, and resolves once notifier's
   * consumer applied it and finished what follows its commit.
   */
  async function deliver<Desc extends DescMessage>(
    stream: StreamSpec,
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
    aggregateId: string,
    actorId?: string,
  ): Promise<EventMetadata> {
    const meta = await publishTestEvent({
      natsUrl: testEnv.natsUrl,
      namespace: eventNamespace(namespace),
      stream,
      event,
      message,
      aggregateId,
      ...(actorId === undefined ? {} : { actorId }),
    });
    await waitFor(
      () =>
        kysely
          .selectFrom("event_inbox")
          .select("consumer")
          .where("event_id", "=", meta.id)
          .executeTakeFirst(),
      { what: `event ${meta.type} ${meta.id} applied` },
    );
    await settled();
    return meta;
  }

  /** How many events `consumer` finished with `outcome`, from `/metrics`. */
  async function consumed(consumer: string, outcome: string) {
    return metric(
      "kindred_events_consumed_total",
      (labels) =>
        labels.includes(`consumer="${consumer}"`) && labels.includes(`outcome="${outcome}"`),
    );
  }

  /** The sum of a metric's series whose labels pass `match`. */
  async function metric(name: string, match: (labels: string) => boolean = () => true) {
    const text = await (await fetch(`${app.host.healthUrl}/metrics`)).text();
    let total = 0;
    for (const [, labels = "", value] of text.matchAll(
      new RegExp(`^${name}\\{([^}]*)\\} ([0-9.e+-]+)$`, "gm"),
    )) {
      if (match(labels)) total += Number(value);
    }
    return total;
  }

  /** `kindred_notifier_deliveries_total` of one kind and outcome. */
  const deliveries = (kind: string, outcome: string) =>
    metric(
      "kindred_notifier_deliveries_total",
      (l) => l.includes(`kind="${kind}"`) && l.includes(`outcome="${outcome}"`),
    );

  /**
   * Publishes a delivered event again with the same event id (as `republish` would, past
   * JetStream's de-duplication), and resolves once `consumer` saw it as a duplicate.
   */
  async function redeliver<Desc extends DescMessage>(
    consumer: string,
    meta: EventMetadata,
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
  ) {
    const before = await consumed(consumer, "duplicate");
    await redeliverTestEvent({
      natsUrl: testEnv.natsUrl,
      namespace: eventNamespace(namespace),
      event,
      message,
      meta,
    });
    await waitFor(
      async () => ((await consumed(consumer, "duplicate")) > before ? true : undefined),
      { what: `${consumer} to see event ${meta.id} again` },
    );
    await settled();
  }

  let circleVersion = 0n;
  /** A circle as circles announced it: its owner, moderators and members, all joined. */
  async function circle(
    ownerId: string,
    { moderators = [], members = [] }: { moderators?: string[]; members?: string[] } = {},
  ) {
    const circleId = randomUUID();
    circleVersion += 1n;
    await deliver(
      circlesStream,
      circlesEvents.circleCreated,
      { circleId, name: "Night owls", ownerId, circleVersion },
      circleId,
    );
    for (const [userId, role] of [
      ...moderators.map((u) => [u, CircleRole.MODERATOR] as const),
      ...members.map((u) => [u, CircleRole.MEMBER] as const),
    ]) {
      circleVersion += 1n;
      await deliver(
        circlesStream,
        circlesEvents.memberJoined,
        { circleId, userId, role, circleVersion },
        circleId,
      );
    }
    return circleId;
  }

  /** A member left a circle. */
  async function leave(circleId: string, userId: string) {
    circleVersion += 1n;
    await deliver(
      circlesStream,
      circlesEvents.memberLeft,
      { circleId, userId, circleVersion, leftAt: timestampFromDate(new Date()) },
      circleId,
    );
  }

  /** Someone responded to a post; returns the ids and the event. */
  async function respond(
    post: { postId?: string; circleId?: string; authorId: string },
    responderId: string,
    body = "I hear you. Call me tonight?",
  ) {
    const postId = post.postId ?? randomUUID();
    const circleId = post.circleId ?? randomUUID();
    const responseId = randomUUID();
    const message = {
      responseId,
      postId,
      circleId,
      postAuthorId: post.authorId,
      authorId: responderId,
      body,
      createdAt: timestampFromDate(new Date()),
    };
    const meta = await deliver(
      contentStream,
      contentEvents.responseCreated,
      message,
      postId,
      responderId,
    );
    return { postId, circleId, responseId, meta, message };
  }

  /** Notifications with their deliveries, oldest first. */
  async function notifications(filter: { userId?: string; eventId?: string } = {}) {
    let query = kysely.selectFrom("notification").selectAll().orderBy("created_at").orderBy("id");
    if (filter.userId !== undefined) query = query.where("user_id", "=", filter.userId);
    if (filter.eventId !== undefined) query = query.where("event_id", "=", filter.eventId);
    const rows = await query.execute();
    const out = [];
    for (const row of rows) {
      const ds = await kysely
        .selectFrom("delivery")
        .selectAll()
        .where("notification_id", "=", row.id)
        .orderBy("id")
        .execute();
      out.push({ ...row, deliveries: ds });
    }
    return out;
  }

  /** Every message any fake provider was asked to send. */
  const pushed = () => [...ios.messages, ...android.messages];

  /** Nothing anyone wrote appears in any push (title, body, data, keys). */
  function expectNoUserText(...texts: string[]) {
    const all = JSON.stringify(pushed());
    for (const text of texts) expect(all).not.toContain(text);
    for (const m of pushed()) {
      expect(m.body).toBe("");
      for (const key of Object.keys(m.data)) {
        expect([
          "kind",
          "notification_id",
          "post_id",
          "response_id",
          "sos_id",
          "circle_id",
          "decision_id",
        ]).toContain(key);
      }
    }
  }

  return {
    app,
    namespace,
    kysely,
    ios,
    android,
    anonymous: clientWith({}),
    user,
    device,
    deliver,
    redeliver,
    circle,
    leave,
    respond,
    notifications,
    pushed,
    expectNoUserText,
    metric,
    deliveries,
    /** Runs the dispatcher until nothing is due. */
    drain: () => app.dispatcher.drain(),
    async [Symbol.asyncDispose]() {
      await app.host.stop();
      await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace));
      await db[Symbol.asyncDispose]();
    },
  };
}

export type NotifierHarness = Awaited<ReturnType<typeof startNotifier>>;

/** Quiet hours in UTC around the current time: an hour before to an hour after. */
export function quietNow() {
  const now = new Date();
  const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
  return {
    enabled: true,
    startMinute: (minute + 1440 - 60) % 1440,
    endMinute: (minute + 60) % 1440,
    timeZone: "UTC",
  };
}
