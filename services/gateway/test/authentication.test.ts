import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { invalidTokenMessage } from "@kindred/auth";
import { createTestSigner, type TestSigner } from "@kindred/auth/testing";
import { UserService } from "@kindred/proto/identity/v1";
import {
  connectErrorOf,
  deleteNamespaceStreams,
  publishTestRevocation,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { closedPort, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawUpgrade } from "../../realtime/test/helpers.ts";
import { createApp } from "../src/app.ts";
import { loadGatewayConfig, upstreamNames } from "../src/config.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const getMePath = "/kindred.identity.v1.UserService/GetMe";
const jwksCacheControl = "public, max-age=300";

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
}

/**
 * Stands in for every upstream at once: ready, answers each RPC with an empty message, serves a
 * JWKS as identity does, answers upgrades with 401 — and records what reached it, so a test can
 * prove that a refused request never did.
 */
async function recordingUpstream(signer: TestSigner) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/readyz") {
      res.writeHead(200).end();
      return;
    }
    seen.push({ method: req.method ?? "", path, authorization: req.headers.authorization });
    if (path === "/.well-known/jwks.json") {
      res
        .writeHead(200, {
          "content-type": "application/jwk-set+json",
          "cache-control": jwksCacheControl,
          "x-internal": "not for clients",
        })
        .end(signer.jwks);
      return;
    }
    // An empty message, in the caller's encoding (Connect unary: JSON or binary).
    const json = req.headers["content-type"] === "application/json";
    req.resume();
    req.on("end", () =>
      res
        .writeHead(200, { "content-type": json ? "application/json" : "application/proto" })
        .end(json ? "{}" : ""),
    );
  });
  server.on("upgrade", (req, socket) => {
    seen.push({
      method: "UPGRADE",
      path: (req.url ?? "/").split("?")[0] ?? "/",
      authorization: req.headers.authorization,
    });
    socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    seen,
    env: Object.fromEntries(upstreamNames.map((name) => [`${name.toUpperCase()}_URL`, url])),
    /** What reached the upstream with this token, other than readiness probes. */
    received: (token: string) => seen.filter((s) => s.authorization === `Bearer ${token}`),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

let signer: TestSigner;
let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
const namespaces: string[] = [];

beforeAll(async () => {
  signer = await createTestSigner();
  upstream = await recordingUpstream(signer);
});

afterAll(async () => {
  upstream.close();
  for (const prefix of namespaces) await deleteNamespaceStreams(testEnv.natsUrl, { prefix });
});

/** A gateway in front of the recording upstream, with its own event namespace. */
async function gateway(extra: Record<string, string> = { AUTH_JWKS: signer.jwks }) {
  const namespace = uniqueName("gw");
  namespaces.push(namespace);
  const host = await startReady(
    createApp(
      loadGatewayConfig(
        testServiceEnv({ extra: { ...upstream.env, EVENTS_NAMESPACE: namespace, ...extra } }),
      ),
    ),
  );
  const client = createClient(
    UserService,
    createConnectTransport({ baseUrl: host.url, httpVersion: "1.1" }),
  );
  const getMe = (token: string) =>
    client.getMe({}, { headers: { authorization: `Bearer ${token}` } });
  return { host, namespace, client, getMe };
}

/** A Connect call as raw HTTP, to see the gateway's status and headers. */
function post(baseUrl: string, authorization: string) {
  return fetch(`${baseUrl}${getMePath}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: "{}",
  });
}

describe("gateway authentication", () => {
  it("forwards a call with a valid token, and one without (the service decides)", async () => {
    const { host, client, getMe } = await gateway();
    await using _ = host;
    const token = await signer.mint({ sub: alice, sid: "s-valid" });
    await getMe(token);
    await client.getMe({});
    expect(upstream.received(token)).toEqual([
      { method: "POST", path: getMePath, authorization: `Bearer ${token}` },
    ]);
    expect(upstream.seen.some((s) => s.path === getMePath && s.authorization === undefined)).toBe(
      true,
    );
  });

  it("refuses bad, expired, tampered and foreign tokens with 401 and never forwards them", async () => {
    const { host, getMe } = await gateway();
    await using _ = host;
    const valid = await signer.mint({ sub: alice });
    const [header, , signature] = valid.split(".");
    const tampered = `${header}.${Buffer.from(
      JSON.stringify({ iss: "kindred-identity", aud: "kindred", sub: "admin", exp: 4e9 }),
    ).toString("base64url")}.${signature}`;
    const refused = {
      expired: await signer.mint({ sub: alice, expiresInSeconds: -60 }),
      tampered,
      foreign: await (await createTestSigner()).mint({ sub: alice }),
      wrongAudience: await signer.mint({ sub: alice, audience: "elsewhere" }),
      garbage: "garbage",
    };
    for (const [what, token] of Object.entries(refused)) {
      const err = await connectErrorOf(getMe(token));
      expect(err, what).toMatchObject({ code: Code.Unauthenticated });
      expect(err.rawMessage, what).toBe(invalidTokenMessage);
      expect(upstream.received(token), what).toEqual([]);
    }

    const raw = await post(host.url, `Bearer ${refused.expired}`);
    expect(raw.status).toBe(401);
    expect(raw.headers.get("content-type")).toBe("application/json");
    expect(raw.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(raw.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await raw.json()).toEqual({ code: "unauthenticated", message: invalidTokenMessage });

    // Another scheme is not "no token": it is refused too.
    const basic = await post(host.url, `Basic ${valid}`);
    expect(basic.status).toBe(401);
    expect(upstream.received(valid)).toEqual([]);
  });

  it("refuses the tokens of a revoked session within seconds and forwards the others", async () => {
    const { host, namespace, getMe } = await gateway();
    await using _ = host;
    const revoked = await signer.mint({ sub: alice, sid: "s-revoked" });
    const other = await signer.mint({ sub: alice, sid: "s-other" });
    await getMe(revoked);
    expect(upstream.received(revoked)).toHaveLength(1);

    const published = Date.now();
    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace,
      sessionId: "s-revoked",
      userId: alice,
      tokensExpireAt: new Date(Date.now() + 600_000),
    });
    const err = await waitFor(
      async () => {
        const e = await connectErrorOf(getMe(revoked));
        return e.code === Code.Unauthenticated ? e : undefined;
      },
      { what: "the revoked session refused", timeoutMs: 5_000, intervalMs: 20 },
    );
    expect(Date.now() - published).toBeLessThan(5_000);
    expect(err.rawMessage).toBe(invalidTokenMessage);
    // Forwarded before the revocation arrived, never after.
    const forwardedBefore = upstream.received(revoked).length;
    await connectErrorOf(getMe(revoked));
    expect(upstream.received(revoked)).toHaveLength(forwardedBefore);

    await getMe(other);
    expect(upstream.received(other)).toHaveLength(1);
    const upgrade = await rawUpgrade(`${host.url}/v1/realtime`, {
      "sec-websocket-protocol": "kindred.v1.json",
      authorization: `Bearer ${revoked}`,
    });
    expect(upgrade.status).toBe(401);
  });

  it("answers unavailable (503) when the keys cannot be fetched, and forwards nothing", async () => {
    const { host, getMe } = await gateway({
      AUTH_JWKS_URL: `http://127.0.0.1:${await closedPort()}/.well-known/jwks.json`,
    });
    await using _ = host;
    const token = await signer.mint({ sub: alice });
    const err = await connectErrorOf(getMe(token));
    expect(err).toMatchObject({ code: Code.Unavailable });
    const raw = await post(host.url, `Bearer ${token}`);
    expect(raw.status).toBe(503);
    expect(await raw.json()).toEqual({
      code: "unavailable",
      message: "the service is temporarily unavailable, retry later",
    });
    expect(upstream.received(token)).toEqual([]);
  });

  it("checks the token of a WebSocket upgrade before tunnelling it", async () => {
    const { host } = await gateway();
    await using _ = host;
    const url = `${host.url}/v1/realtime`;
    const protocol = { "sec-websocket-protocol": "kindred.v1.json" };
    const expired = await signer.mint({ sub: alice, expiresInSeconds: -60 });
    const refused = await rawUpgrade(url, { ...protocol, authorization: `Bearer ${expired}` });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({
      code: "unauthenticated",
      message: invalidTokenMessage,
    });
    expect(upstream.received(expired)).toEqual([]);

    // A valid token is tunnelled (this upstream then answers 401 itself, with `{}`).
    const valid = await signer.mint({ sub: alice });
    const tunnelled = await rawUpgrade(url, { ...protocol, authorization: `Bearer ${valid}` });
    expect(tunnelled).toEqual({ status: 401, body: "{}" });
    expect(upstream.received(valid)).toEqual([
      { method: "UPGRADE", path: "/v1/realtime", authorization: `Bearer ${valid}` },
    ]);
  });

  it("serves identity's JWKS, and by default (outside production) trusts it", async () => {
    // No AUTH_JWKS or AUTH_JWKS_URL: the keys come from IDENTITY_URL's JWKS.
    const { host, getMe } = await gateway({});
    await using _ = host;
    const res = await fetch(`${host.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(res.headers.get("cache-control")).toBe(jwksCacheControl);
    expect(res.headers.get("x-internal")).toBeNull();
    expect(await res.text()).toBe(signer.jwks);

    const token = await signer.mint({ sub: alice });
    await getMe(token);
    expect(upstream.received(token)).toHaveLength(1);
  });

  it("answers 503 for the JWKS when identity is unreachable", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const namespace = uniqueName("gw");
    namespaces.push(namespace);
    await using host = createApp(
      loadGatewayConfig(
        testServiceEnv({
          extra: { ...upstream.env, IDENTITY_URL: down, EVENTS_NAMESPACE: namespace },
        }),
      ),
    );
    await host.start();
    const res = await fetch(`${host.url}/.well-known/jwks.json`);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({
      code: "unavailable",
      message: "the keys are unavailable, retry later",
    });
  });
});
