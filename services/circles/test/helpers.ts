import { randomUUID } from "node:crypto";
import { type DescMessage, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createTestSigner, type TestSigner } from "@kindred/auth/testing";
import { circlesEvents, identityStream, moderationStream } from "@kindred/event-catalog";
import {
  applyTopology,
  type EventMetadata,
  type EventType,
  eventNamespace,
  type StreamSpec,
  streamIn,
} from "@kindred/events";
import { CircleService, Visibility } from "@kindred/proto/circles/v1";
import {
  deleteNamespaceStreams,
  publishTestEvent,
  redeliverTestEvent,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import {
  createTestDatabase,
  type TestDatabase,
  testEnv,
  uniqueName,
  waitFor,
} from "@kindred/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "vitest";
import { buildApp, type CirclesApp } from "../src/app.ts";
import { loadCirclesConfig } from "../src/config.ts";

export type Circles = Client<typeof CircleService>;

/** A signed-in user: their id and a client that sends their access token. */
export interface TestUser {
  id: string;
  c: Circles;
}

/** One event read back from the CIRCLES stream. */
export interface StoredEvent {
  seq: number;
  /** Without the namespace: `circles.member.joined.v1`. */
  subject: string;
  header(name: string): string | undefined;
  /** The decoded payload; every circles event has `circleId` and `circleVersion`. */
  message: { circleId: string; circleVersion: bigint } & Record<string, unknown>;
}

const schemas = new Map(Object.values(circlesEvents).map((t) => [t.subject, t.schema]));

export interface CirclesUnderTest extends AsyncDisposable {
  app: CirclesApp;
  db: TestDatabase;
  namespace: string;
  signer: TestSigner;
  /** An anonymous client. */
  anonymous: Circles;
  /**
   * A new user with the given platform roles (default: just `member`); with `id`, a new token
   * (and session) of that user, e.g. after their roles changed.
   */
  user(roles?: string[], id?: string): Promise<TestUser>;
  /** Counts of `kindred_cache_requests_total` from `/metrics`, by `<cache>:<outcome>`. */
  cacheRequests(): Promise<Record<string, number>>;
  /** Moves the service's clock (invite and ban expiry) forward; `reset` puts it back. */
  clock: { advance(ms: number): void; reset(): void };
  /** Every event on the CIRCLES stream so far, after the relay published the outbox. */
  events(): Promise<StoredEvent[]>;
  /** The events of one circle, in stream order. */
  eventsOf(circleId: string): Promise<StoredEvent[]>;
  /**
   * Publishes an event of another service (identity, moderation) as its relay would, and
   * resolves once circles' consumer applied it and finished what follows its commit.
   */
  deliver<Desc extends DescMessage>(
    stream: StreamSpec,
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
    aggregateId: string,
  ): Promise<EventMetadata>;
  /**
   * Publishes a delivered event again with the same event id (as `republish` would, past
   * JetStream's de-duplication), and resolves once the consumer `consumer` saw it as a duplicate.
   */
  redeliver<Desc extends DescMessage>(
    consumer: string,
    meta: EventMetadata,
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
  ): Promise<void>;
}

/**
 * The streams identity and moderation own, created before circles starts so its consumers
 * attach at once instead of retrying with backoff until the first test event creates them.
 */
async function createProducerStreams(namespace: string) {
  const nc = await connect({ servers: testEnv.natsUrl });
  try {
    await applyTopology(await jetstreamManager(nc), [identityStream, moderationStream], {
      replicas: 1,
      maxBytes: -1,
      namespace: eventNamespace(namespace),
      logger: { info() {} },
    });
  } finally {
    await nc.close();
  }
}

/** A circles service on its own database and events namespace, trusting a test signer. */
export async function startCircles(extra: Record<string, string> = {}): Promise<CirclesUnderTest> {
  const db = await createTestDatabase("circles");
  const namespace = uniqueName("circles");
  const signer = await createTestSigner();
  await createProducerStreams(namespace);
  let offsetMs = 0;
  let last = 0;
  const app = buildApp(
    loadCirclesConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace, AUTH_JWKS: signer.jwks, ...extra },
      }),
    ),
    {
      // Strictly increasing, so rows written one after another never share a timestamp and
      // the lists' order is the order the test wrote them in.
      now: () => {
        last = Math.max(Date.now() + offsetMs, last + 1);
        return new Date(last);
      },
    },
  );
  await startReady(app.host);
  const clientWith = (headers: Record<string, string>) =>
    createClient(
      CircleService,
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

  const events = async (): Promise<StoredEvent[]> => {
    await app.events.relay?.flush();
    const nc = await connect({ servers: testEnv.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = streamIn(eventNamespace(namespace), "CIRCLES");
      const info = await jsm.streams.info(stream);
      const stored: StoredEvent[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(stream, { seq });
        if (m === null) continue;
        const subject = m.subject.slice(namespace.length + 1);
        const schema = schemas.get(subject);
        if (schema === undefined) throw new Error(`unexpected subject ${m.subject}`);
        stored.push({
          seq,
          subject,
          header: (name) => m.header.get(name) || undefined,
          message: fromBinary(schema, m.data) as unknown as StoredEvent["message"],
        });
      }
      return stored;
    } finally {
      await nc.close();
    }
  };

  /** How many events `consumer` finished with `outcome`, from `/metrics`. */
  const consumed = async (consumer: string, outcome: string) => {
    const text = await (await fetch(`${app.host.healthUrl}/metrics`)).text();
    const line = text
      .split("\n")
      .find(
        (l) =>
          l.startsWith("kindred_events_consumed_total{") &&
          l.includes(`consumer="${consumer}"`) &&
          l.includes(`outcome="${outcome}"`),
      );
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const settled = () => Promise.all(app.events.consumers.map((c) => c.idle()));

  return {
    app,
    db,
    namespace,
    signer,
    anonymous: clientWith({}),
    async user(roles = ["member"], id = randomUUID()) {
      const token = await signer.mint({ sub: id, roles, sid: randomUUID() });
      return { id, c: clientWith({ authorization: `Bearer ${token}` }) };
    },
    async cacheRequests() {
      const text = await (await fetch(`${app.host.healthUrl}/metrics`)).text();
      const counts: Record<string, number> = {};
      for (const [, labels = "", value] of text.matchAll(
        /^kindred_cache_requests_total\{([^}]*)\} (\d+)$/gm,
      )) {
        const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1];
        counts[`${label("cache")}:${label("outcome")}`] = Number(value);
      }
      return counts;
    },
    clock: {
      advance(ms) {
        offsetMs += ms;
      },
      reset() {
        offsetMs = 0;
        last = 0;
      },
    },
    events,
    async eventsOf(circleId) {
      return (await events()).filter((e) => e.message.circleId === circleId);
    },
    async deliver(stream, event, message, aggregateId) {
      const meta = await publishTestEvent({
        natsUrl: testEnv.natsUrl,
        namespace: eventNamespace(namespace),
        stream,
        event,
        message,
        aggregateId,
      });
      await waitFor(
        () =>
          app.deps.db.kysely
            .selectFrom("event_inbox")
            .select("consumer")
            .where("event_id", "=", meta.id)
            .executeTakeFirst(),
        { what: `event ${meta.id} applied` },
      );
      await settled();
      return meta;
    },
    async redeliver(consumer, meta, event, message) {
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
        {
          what: `${consumer} to see event ${meta.id} again`,
        },
      );
      await settled();
    },
    async [Symbol.asyncDispose]() {
      await app.host.stop();
      await db[Symbol.asyncDispose]();
      await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace));
    },
  };
}

/** A fresh circle owned by `owner`. */
export async function newCircle(
  owner: TestUser,
  options: { name?: string; description?: string; visibility?: Visibility } = {},
) {
  const { circle } = await owner.c.createCircle({
    name: options.name ?? `Circle ${randomUUID().slice(0, 8)}`,
    description: options.description ?? "",
    visibility: options.visibility ?? Visibility.OPEN,
  });
  if (circle === undefined) throw new Error("no circle in the answer");
  return circle;
}

/**
 * Checks the events of one circle: every one names the circle as its aggregate, and their
 * `circle_version`s are 1, 2, 3… in stream order — each change counted once, none reordered.
 */
export function expectInOrder(events: StoredEvent[], circleId: string): void {
  expect(events.length).toBeGreaterThan(0);
  events.forEach((e, i) => {
    expect(e.message.circleId).toBe(circleId);
    expect(e.header("Kindred-Aggregate-Type")).toBe("circle");
    expect(e.header("Kindred-Aggregate-Id")).toBe(circleId);
    expect(e.message.circleVersion).toBe(BigInt(i + 1));
  });
}

/** The date of a timestamp the answer must have. */
export function dateOf(ts: Timestamp | undefined): Date {
  if (ts === undefined) throw new Error("expected a timestamp");
  return timestampDate(ts);
}
