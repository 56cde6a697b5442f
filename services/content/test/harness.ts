import { randomUUID } from "node:crypto";
import {
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { CallOptions, Client } from "@connectrpc/connect";
import { createTestSigner, type TestSigner } from "@kindred/auth/testing";
import type { Database } from "@kindred/database";
import {
  circlesEvents,
  circlesStream,
  identityEvents,
  identityStream,
  moderationEvents,
  moderationStream,
} from "@kindred/event-catalog";
import {
  applyTopology,
  type EventType,
  eventNamespace,
  type StreamSpec,
  streamIn,
} from "@kindred/events";
import { CircleRole } from "@kindred/proto/circles/v1";
import { PostService, SupportService } from "@kindred/proto/content/v1";
import type { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import type { ServiceHost } from "@kindred/runtime";
import {
  clientFor,
  deleteNamespaceStreams,
  publishTestEvent,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { buildApp } from "../src/app.ts";
import { loadContentConfig } from "../src/config.ts";
import type { CircleRoleName, ContentDatabase } from "../src/db/schema.ts";

export const newId = () => randomUUID();

/**
 * The streams circles, identity and moderation own, created before content starts so its
 * consumers attach at once instead of retrying with backoff until the first test event creates
 * them.
 */
async function createProducerStreams(namespace: string) {
  const nc = await connect({ servers: testEnv.natsUrl });
  try {
    await applyTopology(
      await jetstreamManager(nc),
      [circlesStream, identityStream, moderationStream],
      {
        replicas: 1,
        maxBytes: -1,
        namespace: eventNamespace(namespace),
        logger: { info() {} },
      },
    );
  } finally {
    await nc.close();
  }
}

/** A stored event of the content stream, as a consumer would receive it. */
export interface StoredEvent {
  seq: number;
  subject: string;
  header: (name: string) => string | undefined;
  decode<Desc extends DescMessage>(event: EventType<Desc>): MessageShape<Desc>;
}

const roles: Record<CircleRoleName, CircleRole> = {
  owner: CircleRole.OWNER,
  moderator: CircleRole.MODERATOR,
  member: CircleRole.MEMBER,
};

/**
 * One started content service for a test file (its own database and `EVENTS_NAMESPACE`), a
 * signer for tokens, and the circles and identity events that set up memberships and blocks
 * the way those services would publish them.
 */
export interface HarnessOptions {
  membershipWaitMs?: number;
  /** More environment for content (SOS_*, PURGE_*, REDIS_URL, …). */
  env?: Record<string, string>;
  /** Wait until Redis is connected before returning (default: true). */
  awaitRedis?: boolean;
}

export class ContentHarness implements AsyncDisposable {
  readonly host: ServiceHost;
  readonly client: Client<typeof PostService>;
  readonly support: Client<typeof SupportService>;
  readonly signer: TestSigner;
  readonly namespace: string;
  readonly app: ReturnType<typeof buildApp>;
  readonly #cleanup: AsyncDisposableStack;

  private constructor(parts: {
    host: ServiceHost;
    signer: TestSigner;
    namespace: string;
    app: ReturnType<typeof buildApp>;
    cleanup: AsyncDisposableStack;
  }) {
    this.host = parts.host;
    this.client = clientFor(PostService, parts.host);
    this.support = clientFor(SupportService, parts.host);
    this.signer = parts.signer;
    this.namespace = parts.namespace;
    this.app = parts.app;
    this.#cleanup = parts.cleanup;
  }

  static async start(options: HarnessOptions = {}): Promise<ContentHarness> {
    const cleanup = new AsyncDisposableStack();
    try {
      const db = cleanup.use(await createTestDatabase("content"));
      const signer = await createTestSigner();
      const namespace = uniqueName("content");
      cleanup.defer(() => deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace)));
      await createProducerStreams(namespace);
      const config = loadContentConfig(
        testServiceEnv({
          database: db,
          extra: {
            EVENTS_NAMESPACE: namespace,
            AUTH_JWKS: signer.jwks,
            MEMBERSHIP_WAIT_MS: String(options.membershipWaitMs ?? 300),
            ...options.env,
          },
        }),
      );
      const app = buildApp(config);
      const host = await startReady(app.host);
      cleanup.defer(() => host.stop());
      if (options.awaitRedis !== false) await app.redis.whenReady(AbortSignal.timeout(10_000));
      return new ContentHarness({ host, signer, namespace, app, cleanup });
    } catch (err) {
      await cleanup.disposeAsync();
      throw err;
    }
  }

  get db(): Database<ContentDatabase> {
    return this.app.events.database as Database<ContentDatabase>;
  }

  /** Call options with a bearer token for `sub` (and platform `roles`). */
  async as(sub: string, platformRoles: string[] = ["member"]): Promise<CallOptions> {
    const token = await this.signer.mint({ sub, roles: platformRoles });
    return { headers: { authorization: `Bearer ${token}` } };
  }

  publish<Desc extends DescMessage>(
    stream: StreamSpec,
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
    aggregateId: string,
    actorId?: string,
  ) {
    return publishTestEvent({
      natsUrl: testEnv.natsUrl,
      namespace: eventNamespace(this.namespace),
      stream,
      event,
      message,
      aggregateId,
      ...(actorId === undefined ? {} : { actorId }),
    });
  }

  /** A new circle owned by `ownerId`, as circles announces it; resolves once projected. */
  async createCircle(ownerId: string): Promise<TestCircle> {
    const circle = new TestCircle(this, newId());
    await circle.created(ownerId);
    return circle;
  }

  /** Publishes a block as identity would; resolves once content handled it. */
  async block(blockerId: string, blockedId: string, at = new Date()) {
    const meta = await this.publish(
      identityStream,
      identityEvents.userBlocked,
      { blockerId, blockedId, blockedAt: timestampFromDate(at) },
      blockerId,
    );
    await this.awaitHandled(meta.id);
    await this.settled();
  }

  async unblock(blockerId: string, blockedId: string, at = new Date()) {
    const meta = await this.publish(
      identityStream,
      identityEvents.userUnblocked,
      { blockerId, blockedId, unblockedAt: timestampFromDate(at) },
      blockerId,
    );
    await this.awaitHandled(meta.id);
    await this.settled();
  }

  /** A moderation decision on an account, as moderation publishes it; resolves once handled. */
  async restrict(
    userId: string,
    kind: AccountRestrictionKind,
    options: { until?: Date; decidedAt?: Date } = {},
  ) {
    const meta = await this.publish(
      moderationStream,
      moderationEvents.accountRestricted,
      {
        userId,
        kind,
        caseId: newId(),
        decidedAt: timestampFromDate(options.decidedAt ?? new Date()),
        ...(options.until === undefined ? {} : { until: timestampFromDate(options.until) }),
      },
      userId,
    );
    await this.awaitHandled(meta.id);
  }

  /**
   * Resolves once no consumer is handling an event: what a handled event does after its
   * transaction commits (invalidating feed pages) is done too.
   */
  async settled(): Promise<void> {
    await Promise.all(this.app.events.consumers.map((consumer) => consumer.idle()));
  }

  /** The service's Prometheus metrics, as scraped from the health port. */
  async metrics(): Promise<string> {
    return (await fetch(`${this.host.healthUrl}/metrics`)).text();
  }

  /** Resolves once some consumer handled the event (applied or ignored it), per the inbox. */
  awaitHandled(eventId: string) {
    return waitFor(
      async () =>
        (await this.db.kysely
          .selectFrom("event_inbox")
          .select("consumer")
          .where("event_id", "=", eventId)
          .executeTakeFirst()) ?? undefined,
      { what: `event ${eventId} handled` },
    );
  }

  /** Rows of a table (for "nothing changed" checks). */
  async count(
    table: "post" | "response" | "event_outbox" | "sos_alert" | "sos_acknowledgement",
  ): Promise<number> {
    const row = await this.db.kysely
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Every event on the content stream so far, after the relay published the outbox. */
  async contentEvents(): Promise<StoredEvent[]> {
    await this.app.events.relay?.flush();
    const nc = await connect({ servers: testEnv.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = streamIn(eventNamespace(this.namespace), "CONTENT");
      const info = await jsm.streams.info(stream);
      const events: StoredEvent[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(stream, { seq });
        if (m === null) continue;
        events.push({
          seq,
          subject: m.subject.slice(this.namespace.length + 1),
          header: (name) => m.header.get(name) || undefined,
          decode: (event) => fromBinary(event.schema, m.data),
        });
      }
      return events;
    } finally {
      await nc.close();
    }
  }

  /** The one event on `type`'s subject whose aggregate is `aggregateId`, decoded. */
  async eventOf<Desc extends DescMessage>(
    type: EventType<Desc>,
    aggregateId: string,
    match: (m: MessageShape<Desc>) => boolean = () => true,
  ) {
    const events = (await this.contentEvents()).filter(
      (e) => e.subject === type.subject && e.header("Kindred-Aggregate-Id") === aggregateId,
    );
    const found = events
      .map((e) => ({ event: e, message: e.decode(type) }))
      .filter((e) => match(e.message));
    if (found.length !== 1) {
      throw new Error(`expected one ${type.subject} of ${aggregateId}, found ${found.length}`);
    }
    return found[0] as { event: StoredEvent; message: MessageShape<Desc> };
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#cleanup.disposeAsync();
  }
}

/**
 * A circle as circles' events describe it: each change bumps `version` (the circle_version)
 * and resolves once content's projection shows it.
 */
export class TestCircle {
  readonly id: string;
  version = 0n;
  readonly #h: ContentHarness;

  constructor(harness: ContentHarness, id: string) {
    this.#h = harness;
    this.id = id;
  }

  async created(ownerId: string) {
    const circleVersion = ++this.version;
    await this.#h.publish(
      circlesStream,
      circlesEvents.circleCreated,
      {
        circleId: this.id,
        name: "test circle",
        ownerId,
        createdAt: timestampFromDate(new Date()),
        circleVersion,
      },
      this.id,
    );
    await this.awaitMember(ownerId, circleVersion);
  }

  async join(userId: string, role: CircleRoleName = "member") {
    const circleVersion = ++this.version;
    await this.#h.publish(
      circlesStream,
      circlesEvents.memberJoined,
      {
        circleId: this.id,
        userId,
        role: roles[role],
        joinedAt: timestampFromDate(new Date()),
        circleVersion,
      },
      this.id,
    );
    await this.awaitMember(userId, circleVersion);
  }

  async setRole(userId: string, role: CircleRoleName) {
    const circleVersion = ++this.version;
    await this.#h.publish(
      circlesStream,
      circlesEvents.memberRoleChanged,
      { circleId: this.id, userId, role: roles[role], changedBy: userId, circleVersion },
      this.id,
    );
    await this.awaitMember(userId, circleVersion);
  }

  async leave(userId: string) {
    const circleVersion = ++this.version;
    await this.#h.publish(
      circlesStream,
      circlesEvents.memberLeft,
      { circleId: this.id, userId, leftAt: timestampFromDate(new Date()), circleVersion },
      this.id,
    );
    await this.awaitMember(userId, circleVersion);
  }

  async remove(userId: string, by: string) {
    const circleVersion = ++this.version;
    await this.#h.publish(
      circlesStream,
      circlesEvents.memberRemoved,
      {
        circleId: this.id,
        userId,
        removedBy: by,
        removedAt: timestampFromDate(new Date()),
        circleVersion,
      },
      this.id,
    );
    await this.awaitMember(userId, circleVersion);
  }

  async archive(by: string) {
    const circleVersion = ++this.version;
    await this.#h.publish(
      circlesStream,
      circlesEvents.circleArchived,
      {
        circleId: this.id,
        archivedBy: by,
        archivedAt: timestampFromDate(new Date()),
        circleVersion,
      },
      this.id,
    );
    await waitFor(
      async () =>
        (await this.#h.db.kysely
          .selectFrom("circle_state")
          .select("archived_at")
          .where("circle_id", "=", this.id)
          .where("archived_at", "is not", null)
          .executeTakeFirst()) ?? undefined,
      { what: "the archive projected" },
    );
    await this.#h.settled();
  }

  /** Resolves once the projection holds `userId` at `version` or later (and it settled). */
  async awaitMember(userId: string, version: bigint) {
    const row = await waitFor(
      async () =>
        (await this.#h.db.kysely
          .selectFrom("circle_member")
          .selectAll()
          .where("circle_id", "=", this.id)
          .where("user_id", "=", userId)
          .where("circle_version", ">=", String(version))
          .executeTakeFirst()) ?? undefined,
      { what: `member ${userId} at version ${version}` },
    );
    await this.#h.settled();
    return row;
  }
}
