import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AccessTokenVerifier } from "@kindred/auth";
import { createApp as createRealtime } from "@kindred/realtime/app";
import { loadRealtimeConfig } from "@kindred/realtime/config";
import { startReady, testServiceEnv } from "@kindred/service-kit";
import { closedPort } from "@kindred/testing";
import { describe, expect, it } from "vitest";
// realtime's test helpers (a fake verifier, sockets, events) are shared by path.
import {
  contentEvents,
  everyoneIsMember,
  fakeVerifier,
  openSocket,
  rawUpgrade,
} from "../../realtime/test/helpers.ts";
import { createApp } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const circle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const post = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01";
const protocol = { "sec-websocket-protocol": "kindred.v1.json" };

/** Accepts realtime's fake tokens (`token-<user id>`) and, here, any other: tunnelling is tested. */
const anyToken: AccessTokenVerifier = {
  async verify(token) {
    const { userId } = await fakeVerifier.verify(token).catch(() => ({ userId: "anyone" }));
    return { userId, sessionId: undefined, roles: [], expiresAt: new Date(Date.now() + 60_000) };
  },
};

async function gatewayTo(realtimeUrl: string) {
  const gateway = createApp(
    loadGatewayConfig(testServiceEnv({ extra: { REALTIME_URL: realtimeUrl } })),
    { verifier: anyToken },
  );
  await gateway.start();
  return gateway;
}

describe("gateway WebSocket upgrades", () => {
  it("tunnels /v1/realtime to realtime: subscribe, a created post arrives, a restart closes with 1012", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using realtime = await startReady(
      createRealtime(
        loadRealtimeConfig(testServiceEnv({ extra: { EVENTS_NAMESPACE: events.namespace } })),
        // Membership is not what this tests: every user is a member of every circle.
        { verifier: fakeVerifier, access: everyoneIsMember },
      ),
    );
    await using gateway = await gatewayTo(realtime.url);

    await using socket = await openSocket(gateway.url, { token: `token-${alice}` });
    expect(socket.ws.protocol).toBe("kindred.v1.json");
    socket.send({ ref: "s1", subscribe: { channel: `circle:${circle}` } });
    expect(await socket.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "s1",
      subscribed: { channel: `circle:${circle}`, cursor: "0" },
    });
    await events.publishPost({ postId: post, circleId: circle });
    expect(await socket.next()).toMatchObject({
      event: { channel: `circle:${circle}`, cursor: "1", postCreated: { id: post } },
    });

    // Realtime's own refusal (a token in the URL) reaches the client as realtime sent it.
    const refused = await rawUpgrade(`${gateway.url}/v1/realtime?access_token=x`, protocol);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({
      code: "unauthenticated",
      message:
        "access tokens are not accepted in the URL (URLs are logged): send Authorization: Bearer <token> on the upgrade, or an auth frame first",
    });

    await realtime.stop();
    expect(await socket.closed).toEqual({ code: 1012, reason: "server restart" });
  });

  it("forwards the upgrade with its headers, a request id and X-Forwarded-For", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const upstream = createServer();
    upstream.on("upgrade", (req, socket) => {
      seen.push(req.headers);
      socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
    });
    upstream.listen(0, "127.0.0.1");
    await once(upstream, "listening");
    const port = (upstream.address() as { port: number }).port;
    await using gateway = await gatewayTo(`http://127.0.0.1:${port}`);

    const answer = await rawUpgrade(`${gateway.url}/v1/realtime?x=1`, {
      ...protocol,
      authorization: "Bearer abc",
      "x-request-id": "req-ws-1",
    });
    expect(answer).toEqual({ status: 401, body: "{}" });
    expect(seen[0]).toMatchObject({
      connection: "Upgrade",
      upgrade: "websocket",
      authorization: "Bearer abc",
      "sec-websocket-protocol": "kindred.v1.json",
      "sec-websocket-version": "13",
      "x-request-id": "req-ws-1",
      "x-correlation-id": "req-ws-1",
      "x-forwarded-for": "127.0.0.1",
    });
    expect(seen[0]?.["sec-websocket-key"]).toMatch(/==$/);
    upstream.close();
  });

  it("answers 503 when realtime is unreachable and 404 for any other path", async () => {
    await using gateway = await gatewayTo(`http://127.0.0.1:${await closedPort()}`);

    const down = await rawUpgrade(`${gateway.url}/v1/realtime`, {
      ...protocol,
      authorization: "Bearer abc",
    });
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({
      code: "unavailable",
      message: "the realtime service is unavailable, retry later",
    });

    const elsewhere = await rawUpgrade(`${gateway.url}/v1/other`, protocol);
    expect(elsewhere.status).toBe(404);
    expect(JSON.parse(elsewhere.body)).toEqual({
      code: "not_found",
      message: "no WebSocket endpoint at /v1/other",
    });
  });
});
