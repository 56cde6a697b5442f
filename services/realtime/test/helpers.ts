import { randomBytes, randomUUID } from "node:crypto";
import { request } from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  applyTopology,
  eventNamespace,
  jetStreamPublisher,
  streamIn,
  subjectIn,
  toHeaders,
} from "@kindred/events";
import { NatsClient } from "@kindred/nats";
import { PostCreatedSchema } from "@kindred/proto/content/events/v1";
import { recordingLogger, testEnv, uniqueName } from "@kindred/testing";
import { contentStream, postCreated } from "../src/post-feed.ts";
import type { TokenVerifier } from "../src/token-verifier.ts";

/** Tokens the fake verifier accepts: `token-<user id>`. */
export const fakeVerifier: TokenVerifier = {
  async verify(token) {
    const match = /^token-([0-9a-f-]{36})$/.exec(token);
    if (match?.[1] === undefined) throw new Error("invalid token");
    return { userId: match[1] };
  },
};

/**
 * A test's own event namespace on the shared NATS: the CONTENT stream realtime reads (which the
 * content service would create), and a publisher of `content.post.created.v1` as its relay would.
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
  const stream = streamIn(ns, contentStream);
  return {
    /** `EVENTS_NAMESPACE` for the service under test. */
    namespace: prefix,
    async createStream() {
      await applyTopology(
        await nats.jetstreamManager(),
        [
          {
            name: contentStream,
            subjects: ["content.>"],
            description: "realtime test",
            maxAgeMs: 3_600_000,
            maxBytes: 64 * 1_048_576,
            duplicateWindowMs: 120_000,
          },
        ],
        { namespace: ns, replicas: 1, logger },
      );
    },
    /** Publishes a PostCreated with the relay's headers; returns its stream sequence. */
    async publishPost(post: { postId: string; circleId: string; body?: string }): Promise<number> {
      const id = randomUUID();
      const headers = toHeaders(
        {
          id,
          type: postCreated.name,
          version: postCreated.version,
          producer: "content",
          occurredAt: new Date("2026-11-25T12:00:00Z"),
          actorId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11",
          aggregateType: "post",
          aggregateId: post.postId,
          correlationId: id,
        },
        PostCreatedSchema.typeName,
      );
      const payload = create(PostCreatedSchema, {
        postId: post.postId,
        circleId: post.circleId,
        authorId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11",
        body: post.body ?? "hello",
        createdAt: timestampNow(),
        version: 1n,
      });
      await publisher.publish(
        subjectIn(ns, postCreated.subject),
        toBinary(PostCreatedSchema, payload),
        { msgID: id, headers, timeoutMs: 5_000 },
      );
      return (await (await nats.jetstreamManager()).streams.info(stream)).state.last_seq;
    },
    async [Symbol.asyncDispose]() {
      await (await nats.jetstreamManager()).streams.delete(stream).catch(() => {});
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
