import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { signInFirstMessage } from "@kindred/auth";
import { createApp as createIdentity } from "@kindred/identity/app";
import { loadIdentityConfig } from "@kindred/identity/config";
import { UserService } from "@kindred/proto/identity/v1";
import { connectErrorOf, startReady, testServiceEnv } from "@kindred/service-kit";
import { closedPort, createTestDatabase } from "@kindred/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadGatewayConfig, upstreamNames } from "../src/config.ts";

/** Stands in for an upstream that only needs to be ready (its own tests cover its RPCs). */
async function readyStub(): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === "/readyz" ? 200 : 404).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

const stubs: Server[] = [];
const disposables: AsyncDisposable[] = [];
let upstreamEnv: Record<string, string> = {};

beforeAll(async () => {
  const db = await createTestDatabase("gateway_identity");
  disposables.push(db);
  const identity = await startReady(
    createIdentity(loadIdentityConfig(testServiceEnv({ database: db }))),
  );
  disposables.unshift(identity);
  upstreamEnv = { IDENTITY_URL: identity.url };
  for (const name of upstreamNames.filter((n) => n !== "identity")) {
    const stub = await readyStub();
    stubs.push(stub);
    upstreamEnv[`${name.toUpperCase()}_URL`] =
      `http://127.0.0.1:${(stub.address() as { port: number }).port}`;
  }
});

afterAll(async () => {
  for (const stub of stubs) stub.close();
  for (const d of disposables) await d[Symbol.asyncDispose]();
});

describe("gateway", () => {
  it("is ready only when every upstream is, and forwards RPCs with a request id", async () => {
    await using gateway = await startReady(
      createApp(loadGatewayConfig(testServiceEnv({ extra: upstreamEnv }))),
    );
    const readyz = await fetch(`${gateway.url}/readyz`);
    expect(readyz.status).toBe(200);

    const client = createClient(
      UserService,
      createConnectTransport({ baseUrl: gateway.url, httpVersion: "1.1" }),
    );
    // A call without a token passes the gateway; identity decides (GetMe needs a user).
    const anonymous = await connectErrorOf(client.getMe({}));
    expect(anonymous).toMatchObject({ code: Code.Unauthenticated, rawMessage: signInFirstMessage });

    const invalid = await connectErrorOf(
      client.getUser({ userId: "nope" }, { headers: { "x-request-id": "req-gw-1" } }),
    );
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.metadata.get("x-request-id")).toBe("req-gw-1");
    // Identity's public keys, served at the edge as identity serves them.
    const jwks = await fetch(`${gateway.url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(jwks.headers.get("cache-control")).toMatch(/max-age=\d+/);
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    // A caller without a request id gets one minted at the edge.
    expect(anonymous.metadata.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers not_found for an unknown service and unavailable for an unreachable one", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    await using gateway = createApp(
      loadGatewayConfig(testServiceEnv({ extra: { ...upstreamEnv, IDENTITY_URL: down } })),
    );
    await gateway.start();

    const unknown = await fetch(`${gateway.url}/kindred.nothing.v1.NoService/Call`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      code: "not_found",
      message: "no such service: kindred.nothing.v1.NoService",
    });

    const client = createClient(
      UserService,
      createConnectTransport({ baseUrl: gateway.url, httpVersion: "1.1" }),
    );
    const unavailable = await connectErrorOf(client.getMe({}));
    expect(unavailable).toMatchObject({ code: Code.Unavailable });
    expect(unavailable.rawMessage).toBe("the identity service is unavailable, retry later");
    expect(unavailable.rawMessage).not.toContain("127.0.0.1");

    const readyz = await fetch(`${gateway.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({
      checks: { identity: { status: "down" }, redis: { status: "up" } },
    });
  });
});
