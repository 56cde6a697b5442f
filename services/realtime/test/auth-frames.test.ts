import { createAccessTokenVerifier } from "@kindred/auth";
import { createTestSigner } from "@kindred/auth/testing";
import { moderationEvents as moderation, moderationStream } from "@kindred/event-catalog";
import { DecisionAction, TargetKind } from "@kindred/proto/moderation/events/v1";
import { publishTestRevocation, startReady } from "@kindred/service-kit";
import { closedPort, testEnv, waitFor } from "@kindred/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { eventFrame } from "../src/frames.ts";
import { connectionHarness, TableVerifier } from "./connection-harness.ts";
import {
  contentEvents,
  handledUpTo,
  openSocket,
  rawUpgrade,
  realtimeHost,
  type TestSocket,
} from "./helpers.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const firstSession = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a01";
const secondSession = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a02";
const start = new Date("2026-11-25T12:00:00Z");
const minutes = (n: number) => new Date(start.getTime() + n * 60_000);
const auth = (accessToken: string, ref = "a") => JSON.stringify({ ref, auth: { accessToken } });
const outcome = eventFrame(`user:${alice}`, "4", start, {
  case: "moderationOutcome",
  value: { decisionId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9e01" },
});

/** Lets the token checks (promises) finish; the timers are fake, `setImmediate` is not. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("authentication of a connection", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: start, toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends nothing to a connection until its auth frame, then answers authenticated and joins its user channel", async () => {
    const verifier = new TableVerifier().add("tok-a", {
      userId: alice.toUpperCase(),
      sessionId: firstSession,
      expiresAt: minutes(10),
    });
    const { hub, users, open } = connectionHarness({ verifier });
    const { socket, connection } = open();
    expect(connection.authenticated).toBe(false);
    expect(() => connection.accessToken()).toThrow("not authenticated");
    expect(hub.publish(`user:${alice}`, outcome)).toBe(0);
    expect(users.size).toBe(0);

    connection.onFrame(auth("tok-a"));
    // Sent while the token is checked: it waits, and is handled as of the new token.
    connection.onFrame(JSON.stringify({ ref: "p", ping: { nonce: "n" } }));
    expect(socket.sent).toEqual([]);
    await settle();
    expect(socket.messages(true)).toEqual([
      {
        schemaVersion: "SCHEMA_VERSION_1",
        ref: "a",
        authenticated: { userId: alice, expiresAt: "2026-11-25T12:10:00Z" },
      },
      { schemaVersion: "SCHEMA_VERSION_1", ref: "p", pong: { nonce: "n" } },
    ]);
    expect(connection.accessToken()).toBe("tok-a");
    expect(connection.userId).toBe(alice);
    expect(hub.publish(`user:${alice}`, outcome)).toBe(1);
    expect(users.ofSession(firstSession)).toEqual([connection]);
  });

  it("closes with 4001 a connection whose first message is not an auth frame or whose token is refused, and with 4000 one that sends none in time", async () => {
    const verifier = new TableVerifier().add("tok-a", { userId: alice });
    const { open, sample } = connectionHarness({ verifier, limits: { authTimeoutMs: 5_000 } });

    const pinger = open();
    pinger.connection.onFrame(JSON.stringify({ ping: { nonce: "n" } }));
    expect(pinger.socket.closedWith).toBe(4001);
    expect(pinger.socket.closeReason).toBe("authenticate first: send an auth frame");
    const garbage = open();
    garbage.connection.onFrame("not json");
    expect(garbage.socket.closedWith).toBe(4001);
    const wrong = open();
    wrong.connection.onFrame(auth("tok-nope"));
    await settle();
    expect(wrong.socket.closedWith).toBe(4001);
    expect(wrong.socket.closeReason).toBe("invalid or expired token");
    for (const { socket } of [pinger, garbage, wrong]) expect(socket.sent).toEqual([]);

    const silent = open();
    vi.advanceTimersByTime(4_999);
    expect(silent.socket.closedWith).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(silent.socket.closedWith).toBe(4000);
    expect(silent.socket.closeReason).toBe("authentication timeout");
    // An auth frame in time disarms the timeout.
    const inTime = open();
    inTime.connection.onFrame(auth("tok-a"));
    await settle();
    vi.advanceTimersByTime(10_000);
    expect(inTime.socket.closedWith).toBeUndefined();

    expect(await sample(/forced_closes_total\{reason="unauthenticated"\} (\d+)/)).toBe(3);
    expect(await sample(/forced_closes_total\{reason="auth_timeout"\} (\d+)/)).toBe(1);
  });

  it("re-authenticates in place with a new token of the same user: new expiry, new session, new token", async () => {
    const verifier = new TableVerifier().add("tok-2", {
      userId: alice,
      sessionId: secondSession.toUpperCase(),
      expiresAt: minutes(30),
    });
    // No idle timeout: the client stays quiet for minutes.
    const { users, open, sample } = connectionHarness({ verifier, limits: { idleTimeoutMs: 0 } });
    // Authenticated by its upgrade's header: no `authenticated` frame.
    const { socket, connection } = open({
      userId: alice,
      sessionId: firstSession,
      expiresAt: minutes(10),
      accessToken: "tok-1",
    });
    expect(connection.accessToken()).toBe("tok-1");
    vi.advanceTimersByTime(9 * 60_000);
    connection.onFrame(auth("tok-2", "again"));
    await settle();
    expect(socket.messages(true)).toEqual([
      {
        schemaVersion: "SCHEMA_VERSION_1",
        ref: "again",
        authenticated: { userId: alice, expiresAt: "2026-11-25T12:30:00Z" },
      },
    ]);
    expect(connection.accessToken()).toBe("tok-2");
    expect(connection.expiresAt).toEqual(minutes(30));
    expect(users.ofSession(firstSession)).toEqual([]);
    expect(users.ofSession(secondSession)).toEqual([connection]);

    // Past the first token's expiry: still open. Past the second's: 4002.
    vi.advanceTimersByTime(2 * 60_000);
    expect(socket.closedWith).toBeUndefined();
    vi.advanceTimersByTime(19 * 60_000);
    expect(socket.closedWith).toBe(4002);
    expect(socket.closeReason).toBe("token expired");
    expect(await sample(/forced_closes_total\{reason="token_expired"\} (\d+)/)).toBe(1);
  });

  it("keeps the current token when a new one is refused, and closes with 4001 on another user's", async () => {
    const verifier = new TableVerifier().add("tok-bob", { userId: bob, expiresAt: minutes(30) });
    const { open } = connectionHarness({ verifier });
    const { socket, connection } = open({
      userId: alice,
      expiresAt: minutes(10),
      accessToken: "t",
    });

    connection.onFrame(auth("tok-nope", "bad"));
    await settle();
    expect(socket.messages(true)).toEqual([
      {
        schemaVersion: "SCHEMA_VERSION_1",
        ref: "bad",
        error: {
          code: "ERROR_CODE_UNAUTHENTICATED",
          message:
            "the new access token is invalid or expired; the current one holds until it expires",
        },
      },
    ]);
    expect(socket.closedWith).toBeUndefined();
    expect(connection.accessToken()).toBe("t");

    connection.onFrame(auth("tok-bob", "other"));
    await settle();
    expect(socket.messages()).toEqual([
      {
        schemaVersion: "SCHEMA_VERSION_1",
        ref: "other",
        error: {
          code: "ERROR_CODE_UNAUTHENTICATED",
          message: "the new access token is another user's: open a new connection with it",
        },
      },
    ]);
    expect(socket.closedWith).toBe(4001);
    expect(connection.userId).toBe(alice);
  });
});

describe("authentication when tokens cannot be checked", () => {
  it("closes a first auth frame's connection with 1013 (try again later), and answers a re-auth with an error", async () => {
    const signer = await createTestSigner();
    const verifier = createAccessTokenVerifier({
      issuer: signer.settings.issuer,
      audience: signer.settings.audience,
      jwksUrl: `http://127.0.0.1:${await closedPort()}/jwks.json`,
    });
    const token = await signer.mint({ sub: alice });
    const { open, sample } = connectionHarness({ verifier });

    const first = open();
    first.connection.onFrame(auth(token));
    await waitFor(async () => first.socket.closedWith);
    expect(first.socket.closedWith).toBe(1013);
    expect(first.socket.sent).toEqual([]);
    expect(await sample(/forced_closes_total\{reason="auth_unavailable"\} (\d+)/)).toBe(1);

    const authenticated = open({ userId: alice, accessToken: "t" });
    authenticated.connection.onFrame(auth(token, "re"));
    await waitFor(async () => (authenticated.socket.sent.length > 0 ? true : undefined));
    expect(authenticated.socket.messages()).toEqual([
      {
        schemaVersion: "SCHEMA_VERSION_1",
        ref: "re",
        error: {
          code: "ERROR_CODE_INTERNAL",
          message: "tokens cannot be checked right now; retry",
        },
      },
    ]);
    expect(authenticated.socket.closedWith).toBeUndefined();
  });
});

describe("realtime authentication", () => {
  it("accepts a browser's upgrade without a token and authenticates it by its first frame", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    await using host = await startReady(realtimeHost(events.namespace));
    await using browser = await openSocket(host.url);
    await using phone = await openSocket(host.url, { token: `token-${alice}` });
    const decide = (decisionId: string) =>
      events.publish(
        moderationStream,
        moderation.decisionMade,
        {
          decisionId,
          action: DecisionAction.WARN,
          target: { kind: TargetKind.USER, id: alice, userId: alice },
          affectedUserId: alice,
        },
        decisionId,
      );

    // Before its auth frame the browser's connection is in no channel: the phone gets this one.
    const before = await decide("0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9e01");
    expect(await phone.next()).toMatchObject({ event: { cursor: String(before) } });
    await handledUpTo(host, "moderation-events", moderation.decisionMade.subject, before);

    browser.send({ ref: "a1", auth: { accessToken: `token-${alice}` } });
    expect(await browser.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "a1",
      authenticated: { userId: alice },
    });
    const after = await decide("0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9e02");
    expect(await browser.next()).toMatchObject({
      event: { channel: `user:${alice}`, cursor: String(after) },
    });
    expect(await phone.next()).toMatchObject({ event: { cursor: String(after) } });
  });

  it("closes a browser's socket with 4001 for another first message or a bad token, and with 4000 after the auth timeout", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHost(events.namespace, { extra: { REALTIME_AUTH_TIMEOUT_MS: "300" } }),
    );
    await using pinger = await openSocket(host.url);
    pinger.send({ ping: { nonce: "n" } });
    expect(await pinger.closed).toEqual({
      code: 4001,
      reason: "authenticate first: send an auth frame",
    });
    await using wrong = await openSocket(host.url);
    wrong.send({ auth: { accessToken: "token-nope" } });
    expect(await wrong.closed).toEqual({ code: 4001, reason: "invalid or expired token" });
    await using silent = await openSocket(host.url);
    expect(await silent.closed).toEqual({ code: 4000, reason: "authentication timeout" });

    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /^kindred_realtime_forced_closes_total\{reason="unauthenticated"[^}]*\} 2$/m,
    );
    expect(metrics).toMatch(
      /^kindred_realtime_forced_closes_total\{reason="auth_timeout"[^}]*\} 1$/m,
    );
  });

  it("refuses a token in the URL or a malformed Authorization header with 401", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(realtimeHost(events.namespace));
    const protocol = { "sec-websocket-protocol": "kindred.v1.json" };

    for (const query of [`access_token=token-${alice}`, `x=1&TOKEN=token-${alice}`]) {
      const answer = await rawUpgrade(`${host.url}/v1/realtime?${query}`, protocol);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toEqual({
        code: "unauthenticated",
        message:
          "access tokens are not accepted in the URL (URLs are logged): send Authorization: Bearer <token> on the upgrade, or an auth frame first",
      });
    }
    const basic = await rawUpgrade(`${host.url}/v1/realtime`, {
      ...protocol,
      authorization: "Basic YWxpY2U6c2VjcmV0",
    });
    expect(basic.status).toBe(401);
    expect(JSON.parse(basic.body).message).toBe("the Authorization header is not a bearer token");
    // Other query parameters are fine.
    expect((await rawUpgrade(`${host.url}/v1/realtime?v=1`, protocol)).status).toBe(101);
  });

  it("closes a socket when its token expires (4002), keeps one that re-authenticated, and moves it to its new session", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    const signer = await createTestSigner();
    await using host = await startReady(
      realtimeHost(events.namespace, { withVerifier: false, extra: { AUTH_JWKS: signer.jwks } }),
    );
    const shortLived = await signer.mint({ sub: alice, sid: firstSession, expiresInSeconds: 2 });
    await using expiring = await openSocket(host.url, { token: shortLived });
    await using renewed = await openSocket(host.url, { token: shortLived });

    const fresh = await signer.mint({ sub: alice, sid: secondSession, expiresInSeconds: 600 });
    renewed.send({ ref: "r", auth: { accessToken: fresh } });
    expect(await renewed.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "r",
      authenticated: { userId: alice, expiresAt: expect.any(String) },
    });
    expect(await expiring.closed).toEqual({ code: 4002, reason: "token expired" });
    await stillOpen(renewed);

    // Revoking the session it left does not close it; revoking the one it moved to does.
    const revoke = (sessionId: string) =>
      publishTestRevocation({
        natsUrl: testEnv.natsUrl,
        namespace: events.namespace,
        sessionId,
        userId: alice,
        tokensExpireAt: new Date(Date.now() + 600_000),
      });
    await revoke(firstSession);
    await waitFor(
      async () => {
        const report = await host.readiness.report();
        const details = report.checks["identity-events"]?.details as
          | { lastSequence?: number }
          | undefined;
        return (details?.lastSequence ?? 0) >= 1 ? true : undefined;
      },
      { what: "the first revocation handled" },
    );
    await stillOpen(renewed);
    await revoke(secondSession);
    expect(await renewed.closed).toEqual({ code: 4003, reason: "session revoked" });
  });

  it("closes sockets still waiting for their auth frame with 1012 when it stops", async () => {
    await using events = await contentEvents();
    await events.createStream();
    const host = await startReady(realtimeHost(events.namespace));
    await using waiting = await openSocket(host.url);
    await using authenticated = await openSocket(host.url, { token: `token-${alice}` });
    await host.stop();
    expect(await waiting.closed).toEqual({ code: 1012, reason: "server restart" });
    expect(await authenticated.closed).toEqual({ code: 1012, reason: "server restart" });
  });
});

async function stillOpen(socket: TestSocket): Promise<void> {
  socket.send({ ref: "alive", ping: { nonce: "n" } });
  expect(await socket.next()).toMatchObject({ ref: "alive", pong: { nonce: "n" } });
}
