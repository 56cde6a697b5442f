import { randomBytes, randomUUID } from "node:crypto";
import { request } from "node:http";
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  contentEvents as catalog,
  circlesStream,
  contentStream,
  identityStream,
  moderationStream,
} from "@kindred/event-catalog";
import {
  applyTopology,
  type EventType,
  eventNamespace,
  jetStreamPublisher,
  type StreamSpec,
  streamIn,
  subjectIn,
  toHeaders,
} from "@kindred/events";
import { NatsClient } from "@kindred/nats";
import { ErrorCode } from "@kindred/proto/realtime/v1";
import type { ServiceHost } from "@kindred/runtime";
import { deleteNamespaceStreams, testServiceEnv } from "@kindred/service-kit";
import { recordingLogger, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { createApp, type RealtimeOverrides } from "../src/app.ts";
import type { Admission, CircleAccess } from "../src/circle-access.ts";
import { loadRealtimeConfig } from "../src/config.ts";
import type { TokenVerifier } from "../src/token-verifier.ts";

const postCreated = catalog.postCreated;

/** Tokens the fake verifier accepts: `token-<user id>`. */
export const fakeVerifier: TokenVerifier = {
  async verify(token) {
    const match = /^token-([0-9a-f-]{36})$/.exec(token);
    if (match?.[1] === undefined) throw new Error("invalid token");
    return { userId: match[1] };
  },
};

/** Realtime reading a test's namespace, by default with the fake verifier. */
export function realtimeHost(
  namespace: string,
  options: { withVerifier?: boolean; extra?: Record<string, string> } = {},
) {
  return createApp(
    loadRealtimeConfig(
      testServiceEnv({ extra: { EVENTS_NAMESPACE: namespace, ...options.extra } }),
    ),
    options.withVerifier === false ? {} : { verifier: fakeVerifier },
  );
}

/**
 * Waits until realtime has handled the events of `subject` up to stream sequence `sequence`, as
 * its readiness check `check` reports (realtime has no other idle hook: it is another process
 * in production, and a block has no frame to wait for).
 */
export async function handledUpTo(
  host: ServiceHost,
  check: string,
  subject: string,
  sequence: number,
): Promise<void> {
  await waitFor(
    async () => {
      const details = (await host.readiness.report()).checks[check]?.details as
        | { subjects?: Record<string, number> }
        | undefined;
      return (details?.subjects?.[subject] ?? 0) >= sequence ? true : undefined;
    },
    { what: `realtime to handle ${subject} up to ${sequence}` },
  );
}

/**
 * A test's own event namespace on the shared NATS: the streams realtime reads (CONTENT, which the
 * content service would create, and MODERATION and IDENTITY), and a publisher of their events as
 * the producers' relays would. Disposing it deletes every stream of the namespace.
 */
export async function contentEvents() {
  const prefix = uniqueName("rt");
  const ns = eventNamespace(prefix);
  const logger = recordingLogger();
  const nats = new NatsClient(
    { servers: [testEnv.natsUrl], token: undefined, connectTimeoutMs: 2_000 },
    { name: "realtime-test", logger },
  );
  await nats.connected();
  const publisher = jetStreamPublisher(nats);
  const createStreams = async (...specs: StreamSpec[]) =>
    applyTopology(
      await nats.jetstreamManager(),
      specs.map((spec) => ({ ...spec, maxAgeMs: 3_600_000, duplicateWindowMs: 120_000 })),
      { namespace: ns, replicas: 1, maxBytes: -1, logger },
    );
  /** The stream sequence of the last event stored in `spec`'s stream. */
  const lastSequence = async (spec: StreamSpec) =>
    (await (await nats.jetstreamManager()).streams.info(streamIn(ns, spec.name))).state.last_seq;
  /** Publishes one event with its producer's headers (its stream must exist); returns its sequence. */
  const publish = async <Desc extends DescMessage>(
    stream: StreamSpec,
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
    aggregateId: string,
  ): Promise<number> => {
    const id = randomUUID();
    const headers = toHeaders(
      {
        id,
        type: event.name,
        version: event.version,
        producer: event.domain,
        occurredAt: new Date("2026-11-25T12:00:00Z"),
        actorId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11",
        aggregateType: event.aggregateType,
        aggregateId,
        correlationId: id,
      },
      event.schema.typeName,
    );
    await publisher.publish(
      subjectIn(ns, event.subject),
      toBinary(event.schema, create(event.schema, message)),
      { msgID: id, headers, timeoutMs: 5_000 },
    );
    return lastSequence(stream);
  };
  return {
    /** `EVENTS_NAMESPACE` for the service under test. */
    namespace: prefix,
    /** The CONTENT stream, as the content service creates it. */
    async createStream() {
      await createStreams(contentStream);
    },
    /** CONTENT, MODERATION and IDENTITY. */
    async createAllStreams() {
      await createStreams(contentStream, moderationStream, identityStream);
    },
    publish,
    /** Publishes a PostCreated with the relay's headers; returns its stream sequence. */
    publishPost(post: {
      postId: string;
      circleId: string;
      body?: string;
      authorId?: string;
    }): Promise<number> {
      return publish(
        contentStream,
        postCreated,
        {
          postId: post.postId,
          circleId: post.circleId,
          authorId: post.authorId ?? "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11",
          body: post.body ?? "hello",
          createdAt: timestampNow(),
          version: 1n,
        },
        post.postId,
      );
    },
    async [Symbol.asyncDispose]() {
      await deleteNamespaceStreams(testEnv.natsUrl, ns).catch(() => {});
      await nats[Symbol.asyncDispose]();
    },
  };
}

export interface TestSocket extends AsyncDisposable {
  readonly ws: WebSocket;
  send(message: unknown): void;
  /** The next frame: parsed JSON for text, bytes for binary. */
  next(): Promise<unknown>;
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** A client on Node's built-in WebSocket (ADR 0003), authenticating with a header as mobile does. */
export async function openSocket(
  baseUrl: string,
  options: { token?: string; protocol?: string } = {},
): Promise<TestSocket> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/v1/realtime`, {
    protocols: [options.protocol ?? "kindred.v1.json"],
    headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
  });
  ws.binaryType = "arraybuffer";
  const frames: unknown[] = [];
  const waiting: ((frame: unknown) => void)[] = [];
  ws.addEventListener("message", (event) => {
    const frame =
      typeof event.data === "string"
        ? JSON.parse(event.data)
        : new Uint8Array(event.data as ArrayBuffer);
    const waiter = waiting.shift();
    if (waiter === undefined) frames.push(frame);
    else waiter(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error("WebSocket handshake failed")), {
      once: true,
    });
  });
  return {
    ws,
    send: (message) => ws.send(message instanceof Uint8Array ? message : JSON.stringify(message)),
    next: () =>
      frames.length > 0
        ? Promise.resolve(frames.shift())
        : new Promise((resolve) => waiting.push(resolve)),
    closed,
    async [Symbol.asyncDispose]() {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1000);
      await closed;
    },
  };
}

/**
 * Sends a WebSocket upgrade request and returns the HTTP answer: the refusals realtime and the
 * gateway give (status and JSON body), or 101 when the upgrade was accepted.
 */
export function rawUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": randomBytes(16).toString("base64"),
        ...headers,
      },
    });
    req.on("response", async (res) => {
      let body = "";
      for await (const chunk of res) body += chunk;
      resolve({ status: res.statusCode ?? 0, body });
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: "" });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Realtime reading a test's namespace with the fake verifier and the given overrides. */
export function realtimeHostWith(
  namespace: string,
  overrides: RealtimeOverrides,
  extra: Record<string, string> = {},
) {
  return createApp(
    loadRealtimeConfig(testServiceEnv({ extra: { EVENTS_NAMESPACE: namespace, ...extra } })),
    { verifier: fakeVerifier, ...overrides },
  );
}

/**
 * Circle memberships as a test declares them, in place of circles' GetCircle: `admit` answers
 * from `members` (`<circle>:<user>`), once `gate` (when set) resolves; the tokens it was given
 * and what it was told to forget are recorded.
 */
export class FakeMembership implements CircleAccess {
  readonly members = new Set<string>();
  readonly tokens: string[] = [];
  readonly forgotten: string[] = [];
  gate: Promise<unknown> | undefined;

  add(circleId: string, ...userIds: string[]): this {
    for (const userId of userIds) this.members.add(`${circleId}:${userId}`);
    return this;
  }

  remove(circleId: string, userId: string): void {
    this.members.delete(`${circleId}:${userId}`);
  }

  async admit(userId: string, circleId: string, accessToken: string): Promise<Admission> {
    this.tokens.push(accessToken);
    await this.gate;
    return this.members.has(`${circleId}:${userId}`)
      ? { allowed: true }
      : {
          allowed: false,
          code: ErrorCode.PERMISSION_DENIED,
          message: "only members of this circle can subscribe to it",
        };
  }

  forget(circleId: string, userId?: string): void {
    this.forgotten.push(userId === undefined ? circleId : `${circleId}:${userId}`);
  }
}

/** Every user is a member of every circle (tests of what happens after a subscribe). */
export const everyoneIsMember: CircleAccess = {
  admit: () => ({ allowed: true }),
  forget: () => {},
};

/** The CIRCLES stream of a test's namespace, as the circles service creates it. */
export async function createCirclesStream(namespace: string): Promise<void> {
  const nats = new NatsClient(
    { servers: [testEnv.natsUrl], token: undefined, connectTimeoutMs: 2_000 },
    { name: "realtime-test", logger: recordingLogger() },
  );
  try {
    await nats.connected();
    await applyTopology(
      await nats.jetstreamManager(),
      [{ ...circlesStream, maxAgeMs: 3_600_000, duplicateWindowMs: 120_000 }],
      {
        namespace: eventNamespace(namespace),
        replicas: 1,
        maxBytes: -1,
        logger: recordingLogger(),
      },
    );
  } finally {
    await nats[Symbol.asyncDispose]();
  }
}

/** The next frame that matches, skipping the others. */
export async function frameWhere(
  socket: TestSocket,
  match: (frame: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    const frame = (await socket.next()) as Record<string, unknown>;
    if (match(frame)) return frame;
  }
}
