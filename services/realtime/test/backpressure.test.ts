import { waitFor } from "@kindred/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type EventCase, eventFrame } from "../src/frames.ts";
import { connectionHarness, realtimeServer } from "./connection-harness.ts";
import { openSocket } from "./helpers.ts";
import { openRawSocket } from "./raw-socket.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const circleA = "circle:0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const circleB = "circle:0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c02";
const myChannel = `user:${alice}`;
const start = new Date("2026-11-25T12:00:00Z");

const post = (cursor: number, body = "hello"): EventCase => ({
  case: "postCreated",
  value: { id: `0195f1d2-7c3a-7b2e-9a41-3f6c2d8e${String(cursor).padStart(4, "0")}`, body },
});
const sos = (stage: "sosRaised" | "sosAcknowledged" | "sosEscalated" | "sosResolved") =>
  ({ case: stage, value: { id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9f01" } }) as EventCase;
const event = (channel: string, cursor: number, what: EventCase, occurredAt = start) =>
  eventFrame(channel, String(cursor), occurredAt, what);

describe("backpressure of one connection", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: start, toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("drops event frames over the byte limit, counts them by channel kind, and sends a gap notice per channel once the socket drains", async () => {
    const { hub, open, sample } = connectionHarness({ maxBufferedBytes: 1_000 });
    const { socket, connection } = open({ userId: alice });
    hub.join(circleA, connection);
    hub.join(circleB, connection);

    hub.publish(circleA, event(circleA, 1, post(1)));
    // The client stops reading: its buffer nears the limit.
    socket.bufferedAmount = 900;
    hub.publish(circleA, event(circleA, 2, post(2)));
    hub.publish(circleB, event(circleB, 3, post(3)));
    hub.publish(myChannel, event(myChannel, 4, { case: "moderationOutcome", value: {} }));
    hub.publish(circleA, event(circleA, 5, post(5)));
    // Replies are never dropped.
    connection.onFrame(JSON.stringify({ ref: "p", ping: { nonce: "n" } }));
    expect(socket.messages(true)).toMatchObject([
      { event: { channel: circleA, cursor: "1" } },
      { ref: "p", pong: { nonce: "n" } },
    ]);

    socket.flush();
    hub.publish(circleA, event(circleA, 6, post(6)));
    expect(socket.messages(true)).toEqual([
      {
        schemaVersion: "SCHEMA_VERSION_1",
        gap: { channel: circleA, dropped: 2, resumeCursor: "1" },
      },
      // Nothing of circle B reached it before the gap: it resumes from its own cursor.
      { schemaVersion: "SCHEMA_VERSION_1", gap: { channel: circleB, dropped: 1 } },
      { schemaVersion: "SCHEMA_VERSION_1", gap: { channel: myChannel, dropped: 1 } },
      expect.objectContaining({
        event: expect.objectContaining({ channel: circleA, cursor: "6" }),
      }),
    ]);
    expect(await sample(/frames_dropped_total\{channel_kind="circle"\} (\d+)/)).toBe(3);
    expect(await sample(/frames_dropped_total\{channel_kind="user"\} (\d+)/)).toBe(1);
    expect(await sample(/frames_sent_total\{frame="gap"\} (\d+)/)).toBe(3);
    expect(socket.closedWith).toBeUndefined();
  });

  it("drops over the limit of queued frames too, until half of it is written", () => {
    const { hub, open } = connectionHarness({ limits: { maxQueuedFrames: 4 } });
    const { socket, connection } = open({ userId: alice });
    hub.join(circleA, connection);
    for (let cursor = 1; cursor <= 7; cursor += 1) {
      hub.publish(circleA, event(circleA, cursor, post(cursor)));
    }
    expect(socket.messages(true).map((m) => (m.event as { cursor: string }).cursor)).toEqual([
      "1",
      "2",
      "3",
      "4",
    ]);
    // One frame written: still congested (3 of 4 wait); three written: it recovers.
    socket.written.shift()?.();
    hub.publish(circleA, event(circleA, 8, post(8)));
    expect(socket.sent).toEqual([]);
    socket.written.shift()?.();
    socket.written.shift()?.();
    hub.publish(circleA, event(circleA, 9, post(9)));
    expect(socket.messages()).toMatchObject([
      { gap: { channel: circleA, dropped: 4, resumeCursor: "4" } },
      { event: { cursor: "9" } },
    ]);
  });

  it("never drops SOS frames: they go out over the limits, after their channel's gap notice", () => {
    const { hub, open } = connectionHarness({ maxBufferedBytes: 1_000 });
    const { socket, connection } = open({ userId: alice });
    hub.join(circleA, connection);
    hub.publish(circleA, event(circleA, 1, post(1)));
    socket.bufferedAmount = 5_000;
    hub.publish(circleA, event(circleA, 2, post(2)));
    hub.publish(circleA, event(circleA, 3, sos("sosRaised")));
    hub.publish(circleA, event(circleA, 4, post(4)));
    hub.publish(circleA, event(circleA, 5, sos("sosAcknowledged")));
    hub.publish(circleA, event(circleA, 6, sos("sosEscalated")));
    hub.publish(circleA, event(circleA, 7, sos("sosResolved")));
    expect(socket.messages()).toMatchObject([
      { event: { cursor: "1", postCreated: {} } },
      { gap: { channel: circleA, dropped: 1, resumeCursor: "1" } },
      { event: { cursor: "3", sosRaised: {} } },
      { gap: { channel: circleA, dropped: 1, resumeCursor: "3" } },
      { event: { cursor: "5", sosAcknowledged: {} } },
      { event: { cursor: "6", sosEscalated: {} } },
      { event: { cursor: "7", sosResolved: {} } },
    ]);
  });

  it("closes a client that stays over its limits for the grace period with 4008, not one that drains in time", async () => {
    const { hub, open, sample } = connectionHarness({
      maxBufferedBytes: 1_000,
      limits: { slowClientGraceMs: 10_000, idleTimeoutMs: 0 },
    });
    const slow = open({ userId: alice });
    const recovering = open({ userId: bob });
    for (const { connection } of [slow, recovering]) hub.join(circleA, connection);
    slow.socket.bufferedAmount = 900;
    recovering.socket.bufferedAmount = 900;
    hub.publish(circleA, event(circleA, 1, post(1)));

    vi.advanceTimersByTime(5_000);
    recovering.socket.flush();
    vi.advanceTimersByTime(4_999);
    expect(slow.socket.closedWith).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(slow.socket.closedWith).toBe(4008);
    expect(slow.socket.closeReason).toBe("slow consumer");
    vi.advanceTimersByTime(60_000);
    expect(recovering.socket.closedWith).toBeUndefined();

    // Nothing more goes to the closed one, SOS included.
    const sent = slow.socket.sent.length;
    hub.publish(circleA, event(circleA, 2, sos("sosRaised")));
    expect(slow.socket.sent).toHaveLength(sent);
    expect(await sample(/forced_closes_total\{reason="slow_consumer"\} (\d+)/)).toBe(1);
  });

  it("counts a client pushed over its limits by SOS frames alone as slow too", () => {
    const { hub, open } = connectionHarness({
      maxBufferedBytes: 1_000,
      limits: { slowClientGraceMs: 1_000, idleTimeoutMs: 0 },
    });
    const { socket, connection } = open({ userId: alice });
    hub.join(circleA, connection);
    socket.bufferedAmount = 600;
    hub.publish(circleA, event(circleA, 1, sos("sosRaised")));
    socket.bufferedAmount = 1_200;
    hub.publish(circleA, event(circleA, 2, sos("sosEscalated")));
    vi.advanceTimersByTime(1_000);
    expect(socket.closedWith).toBe(4008);
  });

  it("measures commit → frame latency from each event frame's occurred_at", async () => {
    const { hub, open, registry } = connectionHarness();
    const { connection } = open({ userId: alice });
    hub.join(circleA, connection);
    hub.publish(circleA, event(circleA, 1, post(1), new Date(start.getTime() - 30)));
    hub.publish(circleA, event(circleA, 2, post(2), new Date(start.getTime() - 2_000)));
    connection.onFrame(JSON.stringify({ ping: { nonce: "n" } }));
    const text = await registry.metrics();
    expect(text).toMatch(/^kindred_realtime_delivery_latency_seconds_bucket\{le="0.025"\} 0$/m);
    expect(text).toMatch(/^kindred_realtime_delivery_latency_seconds_bucket\{le="0.05"\} 1$/m);
    expect(text).toMatch(/^kindred_realtime_delivery_latency_seconds_bucket\{le="2.5"\} 2$/m);
    // Replies carry no commit time and are not counted.
    expect(text).toMatch(/^kindred_realtime_delivery_latency_seconds_count 2$/m);
  });
});

/** Yields to the event loop (socket I/O and write callbacks) between bursts. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("backpressure on real sockets", () => {
  it("drops frames for a client that stopped reading and closes it after the grace period, SOS delivered, without holding up a reading client", async () => {
    await using server = await realtimeServer({
      maxBufferedBytes: 262_144,
      limits: { slowClientGraceMs: 1_500 },
    });
    await using reading = await openSocket(server.url, { token: `token-${alice}` });
    await using stopped = await openRawSocket(server.url, { authorization: `Bearer token-${bob}` });
    stopped.pause();
    expect(server.connections).toHaveLength(2);
    for (const connection of server.connections) server.hub.join(circleA, connection);

    const body = "x".repeat(16_000);
    const total = 1_000;
    const sosAt = 400;
    for (let cursor = 1; cursor <= total; cursor += 1) {
      const what = cursor === sosAt ? sos("sosRaised") : post(cursor, body);
      server.hub.publish(circleA, event(circleA, cursor, what, new Date()));
      if (cursor % 2 === 0) await turn();
    }
    // The reading client gets every frame, in order, without a gap.
    for (let cursor = 1; cursor <= total; cursor += 1) {
      expect(await reading.next()).toMatchObject({ event: { cursor: String(cursor) } });
    }

    // Still not reading when the grace period ends: closed, with what was buffered before.
    await waitFor(
      async () =>
        (await server.sample(/forced_closes_total\{reason="slow_consumer"\} (\d+)/)) === 1
          ? true
          : undefined,
      { what: "the stopped client closed", timeoutMs: 10_000 },
    );
    stopped.resume();
    expect(await stopped.closeFrame()).toEqual({ code: 4008, reason: "slow consumer" });
    const cursors = stopped.messages().flatMap((m) => {
      const cursor = (m as { event?: { cursor: string } }).event?.cursor;
      return cursor === undefined ? [] : [Number(cursor)];
    });
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(cursors).toContain(sosAt);
    const dropped = await server.sample(/frames_dropped_total\{channel_kind="circle"\} (\d+)/);
    expect(dropped).toBeGreaterThan(0);
    expect(cursors.length + (dropped ?? 0)).toBeLessThanOrEqual(total);
  });

  it("tells a client that caught up what it missed: gap notices that account for every dropped frame", async () => {
    await using server = await realtimeServer({
      maxBufferedBytes: 262_144,
      limits: { slowClientGraceMs: 30_000 },
    });
    await using lagging = await openRawSocket(server.url, { authorization: `Bearer token-${bob}` });
    lagging.pause();
    for (const connection of server.connections) server.hub.join(circleA, connection);

    const body = "x".repeat(16_000);
    const burst = 600;
    for (let cursor = 1; cursor <= burst; cursor += 1) {
      server.hub.publish(circleA, event(circleA, cursor, post(cursor, body)));
      if (cursor % 2 === 0) await turn();
    }
    lagging.resume();
    await lagging.waitFor((f) => f.opcode === 0x1 && f.payload.includes('"gap"'));
    server.hub.publish(circleA, event(circleA, burst + 1, post(burst + 1)));
    await lagging.waitFor((f) => f.opcode === 0x1 && f.payload.includes(`"cursor":"${burst + 1}"`));

    // Every frame either arrived or was announced by the gap before the next one that did.
    let lastEvent = 0;
    let accounted = 0;
    let dropped = 0;
    for (const message of lagging.messages() as Record<string, Record<string, unknown>>[]) {
      if (message.gap !== undefined) {
        // Its resume cursor: the last frame that reached the client before it.
        expect(message.gap.resumeCursor ?? "").toBe(lastEvent === 0 ? "" : String(lastEvent));
        dropped += message.gap.dropped as number;
        accounted += message.gap.dropped as number;
      } else if (message.event !== undefined) {
        expect(message.event.cursor).toBe(String(accounted + 1));
        lastEvent = accounted + 1;
        accounted = lastEvent;
      }
    }
    expect(accounted).toBe(burst + 1);
    expect(dropped).toBeGreaterThan(0);
    expect(lagging.frames.some((f) => f.opcode === 0x8)).toBe(false);
  });
});
