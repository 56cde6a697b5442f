import { startReady } from "@kindred/service-kit";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connectionDefaults, connectionLimits, loadRealtimeConfig } from "../src/config.ts";
import { MessageRate } from "../src/message-rate.ts";
import { connectionHarness, TableVerifier } from "./connection-harness.ts";
import { contentEvents, openSocket, realtimeHost } from "./helpers.ts";
import { openRawSocket } from "./raw-socket.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const start = new Date("2026-11-25T12:00:00Z");
const ping = (ref = "") => JSON.stringify({ ref, ping: { nonce: "n" } });

describe("connection limits in config", () => {
  it("defaults to the documented limits and reads each from its variable", () => {
    expect(connectionLimits(loadRealtimeConfig({ KINDRED_ENV: "test" }))).toEqual({
      maxBufferedBytes: 1_048_576,
      maxQueuedFrames: 1_000,
      slowClientGraceMs: 10_000,
      authTimeoutMs: 5_000,
      idleTimeoutMs: 60_000,
      maxConnectionsPerUser: 10,
      messagesPerSecond: 20,
      messageBurst: 40,
      floodCloseMs: 5_000,
    });
    expect(connectionDefaults.authTimeoutMs).toBe(5_000);
    const set = loadRealtimeConfig({
      KINDRED_ENV: "test",
      REALTIME_MAX_QUEUED_FRAMES: "50",
      REALTIME_SLOW_CLIENT_GRACE_MS: "2000",
      REALTIME_AUTH_TIMEOUT_MS: "1000",
      REALTIME_IDLE_TIMEOUT_MS: "0",
      REALTIME_MAX_CONNECTIONS_PER_USER: "3",
      REALTIME_MAX_MESSAGES_PER_SECOND: "5",
      REALTIME_MESSAGE_BURST: "6",
      REALTIME_RATE_LIMIT_CLOSE_MS: "7000",
    });
    expect(connectionLimits(set)).toMatchObject({
      maxQueuedFrames: 50,
      slowClientGraceMs: 2_000,
      authTimeoutMs: 1_000,
      idleTimeoutMs: 0,
      maxConnectionsPerUser: 3,
      messagesPerSecond: 5,
      messageBurst: 6,
      floodCloseMs: 7_000,
    });
    expect(() =>
      loadRealtimeConfig({ KINDRED_ENV: "test", REALTIME_AUTH_TIMEOUT_MS: "0" }),
    ).toThrow(/REALTIME_AUTH_TIMEOUT_MS/);
  });
});

describe("message rate", () => {
  it("lets a burst through, then the rate; tells at most once a second; closes a flood that lasts", () => {
    const rate = new MessageRate({ perSecond: 20, burst: 40, floodCloseMs: 5_000 });
    let now = 0;
    for (let i = 0; i < 40; i += 1) expect(rate.take(now)).toBe("accept");
    expect(rate.take(now)).toBe("refuse");
    expect(rate.take(now)).toBe("refuse-quietly");
    now += 50; // one token back
    expect(rate.take(now)).toBe("accept");
    expect(rate.take(now)).toBe("refuse-quietly");
    // Keeps sending 40 a second, twice the rate: told once a second, closed after 5 s.
    const verdicts: string[] = [];
    while (verdicts.at(-1) !== "close" && now < 10_000) {
      now += 25;
      verdicts.push(rate.take(now));
    }
    expect(now).toBeGreaterThanOrEqual(5_000);
    expect(now).toBeLessThan(5_100);
    expect(verdicts.filter((v) => v === "refuse")).toHaveLength(4);
  });

  it("ends a flood when the refusals stop for more than a second", () => {
    const rate = new MessageRate({ perSecond: 1, burst: 1, floodCloseMs: 5_000 });
    let now = 0;
    // One message too many every 1.1 s, for 11 s: each refusal is a flood of its own.
    for (let i = 0; i < 10; i += 1) {
      now += 1_100;
      expect(rate.take(now)).toBe("accept");
      expect(rate.take(now)).toBe("refuse");
    }
    // Two a second, twice the rate: one flood, closed after 5 s.
    const floodStart = now;
    let verdict = "";
    while (verdict !== "close" && now < floodStart + 10_000) {
      now += 500;
      verdict = rate.take(now);
    }
    expect(verdict).toBe("close");
    expect(now - floodStart).toBeGreaterThanOrEqual(5_000);
    expect(now - floodStart).toBeLessThanOrEqual(6_000);
  });
});

describe("limits of one connection", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: start, toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers messages over the rate with one RATE_LIMITED error a second, and closes a client that keeps flooding with 4029", async () => {
    const { open, sample } = connectionHarness();
    const { socket, connection } = open({ userId: alice });
    for (let i = 0; i < 45; i += 1) connection.onFrame(ping(String(i)));
    const replies = socket.messages(true);
    expect(replies).toHaveLength(41);
    expect(replies.slice(0, 40).every((m) => m.pong !== undefined)).toBe(true);
    expect(replies[40]).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      error: {
        code: "ERROR_CODE_RATE_LIMITED",
        message:
          "at most 20 messages a second (40 at once): messages over it are dropped, and a client that keeps sending is disconnected",
      },
    });
    // 100 a second, until it is closed (after 5 s).
    for (let i = 0; i < 700 && socket.closedWith === undefined; i += 1) {
      vi.advanceTimersByTime(10);
      connection.onFrame(ping());
    }
    expect(socket.closedWith).toBe(4029);
    expect(socket.closeReason).toBe("rate limited");
    expect(await sample(/forced_closes_total\{reason="rate_limited"\} (\d+)/)).toBe(1);
  });

  it("closes a connection that sends nothing and answers no ping for the idle timeout with 4010", async () => {
    const { open, sample } = connectionHarness({ limits: { idleTimeoutMs: 60_000 } });
    const talking = open({ userId: alice });
    const answering = open({ userId: alice });
    const silent = open({ userId: bob });
    for (let second = 1; second <= 90; second += 1) {
      vi.advanceTimersByTime(1_000);
      if (second % 30 === 0) talking.connection.onFrame(ping());
      if (second % 25 === 0) answering.connection.onPong();
    }
    expect(silent.socket.closedWith).toBe(4010);
    expect(silent.socket.closeReason).toBe("idle timeout");
    expect(talking.socket.closedWith).toBeUndefined();
    expect(answering.socket.closedWith).toBeUndefined();
    expect(await sample(/forced_closes_total\{reason="idle_timeout"\} (\d+)/)).toBe(1);
  });

  it("closes a user's connection beyond the limit per instance with an error frame, then 4009", async () => {
    const verifier = new TableVerifier().add("tok-a", { userId: alice });
    const { open, users, sample } = connectionHarness({
      verifier,
      limits: { maxConnectionsPerUser: 2 },
    });
    const first = open({ userId: alice });
    open({ userId: alice.toUpperCase() });
    const third = open({ userId: alice });
    expect(third.socket.messages()).toEqual([
      {
        schemaVersion: "SCHEMA_VERSION_1",
        error: {
          code: "ERROR_CODE_LIMIT_EXCEEDED",
          message: "at most 2 connections per user: close another one first",
        },
      },
    ]);
    expect(third.socket.closedWith).toBe(4009);
    expect(users.ofUser(alice)).toHaveLength(2);
    // By an auth frame: the refusal answers it.
    const browser = open();
    browser.connection.onFrame(JSON.stringify({ ref: "a", auth: { accessToken: "tok-a" } }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(browser.socket.messages()).toMatchObject([
      { ref: "a", error: { code: "ERROR_CODE_LIMIT_EXCEEDED" } },
    ]);
    expect(browser.socket.closedWith).toBe(4009);
    // Another user is not concerned; once one of alice's closes, she may open another.
    expect(open({ userId: bob }).socket.closedWith).toBeUndefined();
    first.connection.onClose();
    expect(open({ userId: alice }).socket.closedWith).toBeUndefined();
    expect(await sample(/forced_closes_total\{reason="too_many_connections"\} (\d+)/)).toBe(2);
  });
});

describe("realtime limits", () => {
  it("closes a socket that neither sends nor answers pings with 4010 and keeps one whose client answers them", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHost(events.namespace, {
        extra: { REALTIME_PING_INTERVAL_MS: "50", REALTIME_IDLE_TIMEOUT_MS: "300" },
      }),
    );
    // Node's client answers pings by itself; the raw one never does.
    await using answering = await openSocket(host.url, { token: `token-${alice}` });
    await using silent = await openRawSocket(host.url, { authorization: `Bearer token-${alice}` });
    expect(await silent.closeFrame()).toEqual({ code: 4010, reason: "idle timeout" });
    expect(silent.frames.filter((f) => f.opcode === 0x9).length).toBeGreaterThan(2);

    answering.send({ ref: "k", ping: { nonce: "still here" } });
    expect(await answering.next()).toMatchObject({ pong: { nonce: "still here" } });
  });

  it("closes a user's connection beyond REALTIME_MAX_CONNECTIONS_PER_USER with an error frame and 4009", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHost(events.namespace, { extra: { REALTIME_MAX_CONNECTIONS_PER_USER: "2" } }),
    );
    await using phone = await openSocket(host.url, { token: `token-${alice}` });
    await using laptop = await openSocket(host.url);
    laptop.send({ auth: { accessToken: `token-${alice}` } });
    expect(await laptop.next()).toMatchObject({ authenticated: { userId: alice } });
    await using tablet = await openSocket(host.url, { token: `token-${alice}` });
    expect(await tablet.next()).toMatchObject({ error: { code: "ERROR_CODE_LIMIT_EXCEEDED" } });
    expect(await tablet.closed).toEqual({ code: 4009, reason: "too many connections" });
    await using ofBob = await openSocket(host.url, { token: `token-${bob}` });
    ofBob.send({ ref: "k", ping: {} });
    expect(await ofBob.next()).toMatchObject({ ref: "k", pong: {} });
    phone.send({ ref: "k", ping: {} });
    expect(await phone.next()).toMatchObject({ ref: "k", pong: {} });
  });

  it("closes a socket that sends a frame over REALTIME_MAX_FRAME_BYTES with 1009", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHost(events.namespace, { extra: { REALTIME_MAX_FRAME_BYTES: "1024" } }),
    );
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    socket.send({ ref: "x".repeat(1_000), ping: { nonce: "y".repeat(100) } });
    expect((await socket.closed).code).toBe(1009);
    // Before authentication too.
    await using browser = await openSocket(host.url);
    browser.send({ auth: { accessToken: "x".repeat(2_000) } });
    expect((await browser.closed).code).toBe(1009);
  });

  it("answers a burst over the message rate with a RATE_LIMITED error and keeps the socket", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHost(events.namespace, {
        extra: { REALTIME_MAX_MESSAGES_PER_SECOND: "5", REALTIME_MESSAGE_BURST: "10" },
      }),
    );
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    for (let i = 0; i < 15; i += 1) socket.send({ ref: String(i), ping: {} });
    for (let i = 0; i < 10; i += 1) {
      expect(await socket.next()).toMatchObject({ ref: String(i), pong: {} });
    }
    expect(await socket.next()).toMatchObject({
      error: { code: "ERROR_CODE_RATE_LIMITED", message: expect.stringMatching(/^at most 5/) },
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    socket.send({ ref: "later", ping: {} });
    expect(await socket.next()).toMatchObject({ ref: "later", pong: {} });
    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /^kindred_realtime_forced_closes_total\{reason="rate_limited"[^}]*\} 0$/m,
    );
  });
});
