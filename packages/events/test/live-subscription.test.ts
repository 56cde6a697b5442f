import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { NatsClient } from "@kindred/nats";
import { PostCreatedSchema } from "@kindred/proto/content/events/v1";
import { recordingLogger, TestNatsServer, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { defineEvent } from "../src/event-type.ts";
import { type LiveEvent, subscribeLive } from "../src/live-subscription.ts";
import { toHeaders } from "../src/metadata.ts";
import { eventNamespace, streamIn, subjectIn } from "../src/namespace.ts";

const postCreated = defineEvent(PostCreatedSchema, "content.post.created.v1");
type Received = LiveEvent<typeof PostCreatedSchema>;

/** A test's own namespace on a NATS server: the CONTENT stream, a publisher, a client. */
async function world(natsUrl = testEnv.natsUrl, ns = eventNamespace(uniqueName("live"))) {
  const logger = recordingLogger();
  const admin = await connect({
    servers: natsUrl,
    reconnectTimeWait: 100,
    maxReconnectAttempts: -1,
  });
  const nats = new NatsClient(
    { servers: [natsUrl], token: undefined, connectTimeoutMs: 1_000 },
    { name: "live-test", logger, initialRetryMs: 50, maxRetryMs: 200 },
  );
  const stream = streamIn(ns, "CONTENT");
  /** One event id per post: a publish retried after a restart is dropped as a duplicate. */
  const ids = new Map<string, string>();
  return {
    ns,
    logger,
    nats,
    async createStream() {
      await (await jetstreamManager(admin)).streams.add({
        name: stream,
        subjects: [subjectIn(ns, "content.>")],
        storage: StorageType.File,
      });
    },
    /** Publishes a PostCreated the way the relay does; returns its stream sequence. */
    async publish(postId: string, options: { type?: string; raw?: Uint8Array } = {}) {
      const id = ids.get(postId) ?? crypto.randomUUID();
      ids.set(postId, id);
      const h = natsHeaders();
      const meta = {
        id,
        type: options.type ?? postCreated.name,
        version: 1,
        producer: "content",
        occurredAt: new Date(),
        actorId: "author",
        aggregateType: "post",
        aggregateId: postId,
        correlationId: id,
      };
      for (const [k, v] of Object.entries(toHeaders(meta, PostCreatedSchema.typeName))) {
        h.set(k, v);
      }
      const payload =
        options.raw ??
        toBinary(PostCreatedSchema, create(PostCreatedSchema, { postId, circleId: "c1" }));
      const ack = await jetstream(admin).publish(subjectIn(ns, postCreated.subject), payload, {
        msgID: id,
        headers: h,
      });
      return ack.seq;
    },
    async [Symbol.asyncDispose]() {
      await (await jetstreamManager(admin)).streams.delete(stream).catch(() => {});
      await admin.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

/** Collects events and lets the test await the n-th one. */
function collector() {
  const events: Received[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  return {
    events,
    onEvent(event: Received) {
      events.push(event);
      for (const w of waiters.filter((w) => events.length >= w.n)) w.resolve();
      waiters = waiters.filter((w) => events.length < w.n);
    },
    async count(n: number): Promise<Received[]> {
      if (events.length < n) await new Promise<void>((resolve) => waiters.push({ n, resolve }));
      return events.slice(0, n);
    },
  };
}

const summary = (events: Received[]) =>
  events.map((e) => ({ postId: e.message.postId, sequence: e.sequence }));

describe("subscribeLive", () => {
  it("delivers events published after ready() in order with their stream sequence, skipping malformed ones", async () => {
    await using w = await world();
    await w.createStream();
    await w.publish("before");
    const seen = collector();
    await using sub = subscribeLive({
      nats: w.nats,
      stream: "CONTENT",
      event: postCreated,
      namespace: w.ns,
      deliver: "new",
      onEvent: seen.onEvent,
      logger: w.logger,
    });
    await sub.ready();
    expect(sub.established).toBe(true);

    const s1 = await w.publish("p1");
    await w.publish("garbage", { raw: new Uint8Array([0xff, 0xff, 0xff]) });
    await w.publish("other", { type: "content.post.updated" });
    const s2 = await w.publish("p2");
    const s3 = await w.publish("p3");

    expect(summary(await seen.count(3))).toEqual([
      { postId: "p1", sequence: s1 },
      { postId: "p2", sequence: s2 },
      { postId: "p3", sequence: s3 },
    ]);
    expect(seen.events[0]?.metadata.type).toBe("content.post.created");
    expect(sub.lastSequence).toBe(s3);
    expect(
      w.logger.entries.filter((e) => e.msg === "malformed event skipped by live subscription"),
    ).toHaveLength(2);
  });

  it("replays the events after a given sequence, then continues live", async () => {
    await using w = await world();
    await w.createStream();
    for (const id of ["a", "b", "c", "d"]) await w.publish(id);
    const seen = collector();
    await using sub = subscribeLive({
      nats: w.nats,
      stream: "CONTENT",
      event: postCreated,
      namespace: w.ns,
      deliver: { afterSequence: 2 },
      onEvent: seen.onEvent,
      logger: w.logger,
    });
    await sub.ready();
    await w.publish("e");
    expect(summary(await seen.count(3))).toEqual([
      { postId: "c", sequence: 3 },
      { postId: "d", sequence: 4 },
      { postId: "e", sequence: 5 },
    ]);
  });

  it("replays the events stored since a time, then continues live", async () => {
    await using w = await world();
    await w.createStream();
    await w.publish("old-1");
    await w.publish("old-2");
    // Stream timestamps are the server's; leave a clear gap on both sides of the start time.
    await sleep(250);
    const since = new Date();
    await sleep(250);
    const s3 = await w.publish("recent-1");
    await w.publish("other", { type: "content.post.updated" });
    const s5 = await w.publish("recent-2");
    const seen = collector();
    await using sub = subscribeLive({
      nats: w.nats,
      stream: "CONTENT",
      event: postCreated,
      namespace: w.ns,
      deliver: { sinceTime: since },
      onEvent: seen.onEvent,
      logger: w.logger,
    });
    await sub.ready();
    const s6 = await w.publish("live");
    expect(summary(await seen.count(3))).toEqual([
      { postId: "recent-1", sequence: s3 },
      { postId: "recent-2", sequence: s5 },
      { postId: "live", sequence: s6 },
    ]);
    // The probe that found the start is gone; only the ordered consumer remains.
    const jsm = await w.nats.jetstreamManager();
    const consumers = await jsm.consumers.list(streamIn(w.ns, "CONTENT")).next();
    expect(consumers).toHaveLength(1);
  });

  it("starts a time-based replay at the end when nothing is that recent", async () => {
    await using w = await world();
    await w.createStream();
    await w.publish("old");
    const seen = collector();
    await using sub = subscribeLive({
      nats: w.nats,
      stream: "CONTENT",
      event: postCreated,
      namespace: w.ns,
      deliver: { sinceTime: new Date(Date.now() + 60_000) },
      onEvent: seen.onEvent,
      logger: w.logger,
    });
    await sub.ready();
    expect(sub.lastSequence).toBe(1);
    const s2 = await w.publish("live");
    expect(summary(await seen.count(1))).toEqual([{ postId: "live", sequence: s2 }]);
  });

  it("keeps a handler's failure to that event", async () => {
    await using w = await world();
    await w.createStream();
    const seen = collector();
    await using sub = subscribeLive({
      nats: w.nats,
      stream: "CONTENT",
      event: postCreated,
      namespace: w.ns,
      deliver: "new",
      onEvent: (e) => {
        if (e.message.postId === "boom") throw new Error("handler bug");
        seen.onEvent(e);
      },
      logger: w.logger,
    });
    await sub.ready();
    await w.publish("boom");
    await w.publish("fine");
    expect(summary(await seen.count(1))).toEqual([{ postId: "fine", sequence: 2 }]);
    expect(w.logger.entries.map((e) => e.msg)).toContain(
      "live event handler failed; event skipped",
    );
  });

  it("starts while NATS is down and the stream missing, and survives a NATS restart without gaps or repeats", async () => {
    await using server = await TestNatsServer.start();
    await server.stop();
    const ns = eventNamespace(uniqueName("live"));
    const logger = recordingLogger();
    await using nats = new NatsClient(
      { servers: [server.url], token: undefined, connectTimeoutMs: 500 },
      { name: "live-test", logger, initialRetryMs: 50, maxRetryMs: 200 },
    );
    const seen = collector();
    await using sub = subscribeLive({
      nats,
      stream: "CONTENT",
      event: postCreated,
      namespace: ns,
      deliver: "new",
      onEvent: seen.onEvent,
      logger,
      retry: { initialMs: 50, maxMs: 200 },
    });

    await server.start();
    await using w = await world(server.url, ns);
    await waitFor(
      () =>
        logger.entries.some((e) => /stream not found/.test(String(e.obj.err))) ? true : undefined,
      { what: "a retry on the missing stream" },
    );
    expect(sub.established).toBe(false);
    await w.createStream();
    await sub.ready();

    await w.publish("p1");
    await w.publish("p2");
    await seen.count(2);

    await server.stop();
    await server.start();
    // The publisher's connection comes back on its own; publish once it has.
    await waitFor(() => w.publish("p3").then(() => true), { what: "a publish after the restart" });
    await w.publish("p4");
    await w.publish("p5");

    expect(summary(await seen.count(5))).toEqual(
      ["p1", "p2", "p3", "p4", "p5"].map((postId, i) => ({ postId, sequence: i + 1 })),
    );
  });

  it("rejects ready() when disposed before it was established", async () => {
    const ns = eventNamespace(uniqueName("live"));
    const logger = recordingLogger();
    await using nats = new NatsClient(
      { servers: [testEnv.natsUrl], token: undefined, connectTimeoutMs: 500 },
      { name: "live-test", logger },
    );
    const sub = subscribeLive({
      nats,
      stream: "CONTENT",
      event: postCreated,
      namespace: ns,
      deliver: "new",
      onEvent: () => {},
      logger,
    });
    await sub[Symbol.asyncDispose]();
    await expect(sub.ready()).rejects.toThrow("closed before it was established");
  });
});
