import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createTestSigner } from "@kindred/auth/testing";
import { ClientMessageSchema, ErrorCode, ServerMessageSchema } from "@kindred/proto/realtime/v1";
import { publishTestRevocation, startReady } from "@kindred/service-kit";
import { testEnv, waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import {
  contentEvents,
  everyoneIsMember,
  openSocket,
  rawUpgrade,
  realtimeHost,
  realtimeHostWith,
} from "./helpers.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const circle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const otherCircle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c02";
const post = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01";

describe("realtime", () => {
  it("delivers a created post to the sockets subscribed to its circle, with a cursor", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    expect(Object.keys((await host.readiness.report()).checks)).toEqual([
      "nats",
      "content-events",
      "moderation-events",
      "identity-events",
      "circles-events",
    ]);

    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    expect(socket.ws.protocol).toBe("kindred.v1.json");
    socket.send({ ref: "r1", subscribe: { channel: `circle:${circle}` } });
    expect(await socket.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "r1",
      subscribed: { channel: `circle:${circle}`, cursor: "0" },
    });

    await events.publishPost({ postId: "elsewhere", circleId: otherCircle });
    const sequence = await events.publishPost({ postId: post, circleId: circle, body: "hi" });
    expect(sequence).toBe(2);
    expect(await socket.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      event: {
        channel: `circle:${circle}`,
        cursor: "2",
        occurredAt: "2026-11-25T12:00:00Z",
        postCreated: {
          id: post,
          circleId: circle,
          authorId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11",
          body: "hi",
          version: "1",
          createdAt: expect.any(String),
        },
      },
    });

    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^kindred_realtime_connections\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^kindred_realtime_frames_sent_total\{frame="event"[^}]*\} 1$/m);
  });

  it("refuses an upgrade with a bad token (401), without a subprotocol (400) or elsewhere (404)", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(realtimeHost(events.namespace));
    const url = `${host.url}/v1/realtime`;
    const protocol = { "sec-websocket-protocol": "kindred.v1.json" };

    // Without a token the upgrade is accepted: the client authenticates by its first frame
    // (auth-frames.test.ts).
    expect((await rawUpgrade(url, protocol)).status).toBe(101);
    const bad = await rawUpgrade(url, { ...protocol, authorization: "Bearer nope" });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body)).toEqual({
      code: "unauthenticated",
      message: "the access token is invalid or expired",
    });
    const noProtocol = await rawUpgrade(url, { authorization: `Bearer token-${alice}` });
    expect(noProtocol.status).toBe(400);
    expect(JSON.parse(noProtocol.body).code).toBe("invalid_argument");
    const elsewhere = await rawUpgrade(`${host.url}/v1/other`, {
      ...protocol,
      authorization: `Bearer token-${alice}`,
    });
    expect(elsewhere.status).toBe(404);
    const accepted = await rawUpgrade(url, { ...protocol, authorization: `Bearer token-${alice}` });
    expect(accepted.status).toBe(101);

    const plain = await fetch(url);
    expect(plain.status).toBe(426);
    expect(((await plain.json()) as { code: string }).code).toBe("failed_precondition");
  });

  it("refuses every token when no verifier is configured", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(realtimeHost(events.namespace, { withVerifier: false }));
    const answer = await rawUpgrade(`${host.url}/v1/realtime`, {
      "sec-websocket-protocol": "kindred.v1.json",
      authorization: `Bearer token-${alice}`,
    });
    expect(answer.status).toBe(401);
  });

  it("verifies real tokens and refuses those of a revoked session within seconds", async () => {
    await using events = await contentEvents();
    await events.createStream();
    const signer = await createTestSigner();
    await using host = await startReady(
      realtimeHost(events.namespace, { withVerifier: false, extra: { AUTH_JWKS: signer.jwks } }),
    );
    const upgrade = async (sid: string) =>
      rawUpgrade(`${host.url}/v1/realtime`, {
        "sec-websocket-protocol": "kindred.v1.json",
        authorization: `Bearer ${await signer.mint({ sub: alice, sid })}`,
      });
    expect((await upgrade("s-revoked")).status).toBe(101);

    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace: events.namespace,
      sessionId: "s-revoked",
      tokensExpireAt: new Date(Date.now() + 600_000),
    });
    const refused = await waitFor(
      async () => {
        const answer = await upgrade("s-revoked");
        return answer.status === 401 ? answer : undefined;
      },
      { what: "the revoked session refused", timeoutMs: 5_000 },
    );
    expect(JSON.parse(refused.body)).toEqual({
      code: "unauthenticated",
      message: "the access token is invalid or expired",
    });
    expect((await upgrade("s-other")).status).toBe(101);
    // Readiness results are cached briefly: wait for one taken after the feed started.
    const check = await waitFor(async () => {
      const result = (await host.readiness.report()).checks["session-revocations"];
      return result?.status === "up" ? result : undefined;
    });
    expect(check).toEqual({
      status: "up",
      critical: false,
      details: { lastSequence: 1, revokedSessions: 1 },
    });
  });

  it("answers unknown and invalid client messages with error frames and keeps the socket open", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(realtimeHost(events.namespace));
    await using socket = await openSocket(host.url, { token: `token-${alice}` });

    socket.send({ ref: "u1", hello: { there: true } });
    expect(await socket.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      error: {
        code: "ERROR_CODE_UNKNOWN_MESSAGE",
        message: "the message has no frame this server knows",
      },
    });
    socket.ws.send("not json");
    expect(await socket.next()).toMatchObject({ error: { code: "ERROR_CODE_INVALID_MESSAGE" } });
    socket.send({ ref: "v1", subscribe: { channel: "circle:not-a-uuid" } });
    expect(await socket.next()).toMatchObject({ error: { code: "ERROR_CODE_INVALID_MESSAGE" } });
    socket.send({ schemaVersion: "SCHEMA_VERSION_9", ping: {} });
    expect(await socket.next()).toMatchObject({
      error: { code: "ERROR_CODE_UNSUPPORTED_VERSION" },
    });
    socket.send({ ref: "p1", subscribe: { channel: `user:${circle}` } });
    expect(await socket.next()).toMatchObject({
      ref: "p1",
      error: { code: "ERROR_CODE_PERMISSION_DENIED", channel: `user:${circle}` },
    });

    socket.send({ ref: "k1", ping: { nonce: "n1" } });
    expect(await socket.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "k1",
      pong: { nonce: "n1" },
    });
    expect(socket.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("speaks kindred.v1.proto in binary frames", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    await using socket = await openSocket(host.url, {
      token: `token-${alice}`,
      protocol: "kindred.v1.proto",
    });
    expect(socket.ws.protocol).toBe("kindred.v1.proto");
    socket.send(
      toBinary(
        ClientMessageSchema,
        create(ClientMessageSchema, {
          ref: "b1",
          frame: { case: "subscribe", value: { channel: `circle:${circle}` } },
        }),
      ),
    );
    const subscribed = fromBinary(ServerMessageSchema, (await socket.next()) as Uint8Array);
    expect(subscribed.frame).toMatchObject({
      case: "subscribed",
      value: { channel: `circle:${circle}` },
    });

    await events.publishPost({ postId: post, circleId: circle });
    const event = fromBinary(ServerMessageSchema, (await socket.next()) as Uint8Array);
    expect(event.frame.case === "event" && event.frame.value.event).toMatchObject({
      case: "postCreated",
      value: { id: post },
    });

    socket.ws.send("text is not binary");
    const refused = fromBinary(ServerMessageSchema, (await socket.next()) as Uint8Array);
    expect(refused.frame).toMatchObject({
      case: "error",
      value: { code: ErrorCode.INVALID_MESSAGE },
    });
  });

  it("closes every socket with 1012 (service restart) when it stops", async () => {
    await using events = await contentEvents();
    await events.createStream();
    const host = await startReady(realtimeHost(events.namespace));
    await using socket = await openSocket(host.url, { token: `token-${alice}` });

    await host.stop();
    expect(await socket.closed).toEqual({ code: 1012, reason: "server restart" });
  });

  it("gets ready once the content stream exists, which it waits for", async () => {
    await using events = await contentEvents();
    await using host = realtimeHost(events.namespace);
    await host.start();
    const before = await waitFor(async () => {
      const report = await host.readiness.report();
      return report.checks.nats?.status === "up" ? report : undefined;
    });
    expect(before.ready).toBe(false);
    expect(before.checks["content-events"]).toEqual({
      status: "down",
      error:
        "not reading content.post.created.v1, content.post.updated.v1, content.post.removed.v1, content.response.created.v1, content.response.removed.v1, content.sos.raised.v1, content.sos.acknowledged.v1, content.sos.escalated.v1, content.sos.resolved.v1 yet",
    });

    // Moderation and identity may come later: reported, but realtime is ready without them.
    await events.createStream();
    const after = await waitFor(async () => {
      const report = await host.readiness.report();
      return report.ready ? report : undefined;
    });
    expect(after.checks["moderation-events"]).toEqual({
      status: "down",
      critical: false,
      error:
        "not reading moderation.decision.made.v1, moderation.account.restricted.v1 yet: until then, moderation outcomes and suspensions do not reach open sockets",
    });
    expect(after.checks["identity-events"]).toMatchObject({ status: "down", critical: false });
  });
});
