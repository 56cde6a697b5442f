import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DependencyUnavailableError, DomainError } from "@kindred/errors";
import { errors } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAccessTokenVerifier, invalidTokenMessage } from "../src/index.ts";
import { createTestSigner, type TestSigner } from "../src/testing.ts";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(close));
});

function close(server: Server): Promise<void> {
  // fetch keeps connections alive; without this, close would wait for them to time out.
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A JWKS endpoint on a free port that counts its requests. */
async function serveJwks(body: () => { status: number; json: string }) {
  const state = { requests: 0 };
  const server = createServer((_req, res) => {
    state.requests += 1;
    const { status, json } = body();
    res.writeHead(status, { "content-type": "application/json" }).end(json);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, state, url: `http://127.0.0.1:${port}/.well-known/jwks.json` };
}

const remoteSettings = (signer: TestSigner, jwksUrl: string) => ({
  issuer: signer.settings.issuer,
  audience: signer.settings.audience,
  jwksUrl,
});

describe("a remote JWKS", () => {
  it("verifies tokens with fetched keys, caches them, and fails over to unavailable", async () => {
    const signer = await createTestSigner();
    const { server, state, url } = await serveJwks(() => ({ status: 200, json: signer.jwks }));
    const verifier = createAccessTokenVerifier(remoteSettings(signer, url));

    expect((await verifier.verify(await signer.mint({ sub: "user-1" }))).userId).toBe("user-1");
    expect((await verifier.verify(await signer.mint({ sub: "user-2" }))).userId).toBe("user-2");
    expect(state.requests).toBe(1);

    await close(server);
    // The warm cache keeps working while identity is away.
    expect((await verifier.verify(await signer.mint({ sub: "user-3" }))).userId).toBe("user-3");

    // A cold cache against an endpoint that is gone: an outage, not a bad token.
    const cold = createAccessTokenVerifier(remoteSettings(signer, url));
    const err = await cold.verify(await signer.mint({ sub: "user-4" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect(err).toMatchObject({ code: "unavailable", dependency: "jwks" });
    expect((err as Error).cause).toBeInstanceOf(Error);
  });

  it("reports an endpoint that answers an error as unavailable", async () => {
    const signer = await createTestSigner();
    const { url } = await serveJwks(() => ({ status: 503, json: "{}" }));
    const verifier = createAccessTokenVerifier(remoteSettings(signer, url));
    await expect(verifier.verify(await signer.mint({ sub: "u" }))).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
  });

  it("reports a body that is not a key set as unavailable", async () => {
    const signer = await createTestSigner();
    const { url } = await serveJwks(() => ({ status: 200, json: '{"keys": "nope"}' }));
    const verifier = createAccessTokenVerifier(remoteSettings(signer, url));
    await expect(verifier.verify(await signer.mint({ sub: "u" }))).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
  });

  it("rejects an unknown kid as invalid, without refetching during the cooldown", async () => {
    const signer = await createTestSigner();
    const stranger = await createTestSigner();
    const { state, url } = await serveJwks(() => ({ status: 200, json: signer.jwks }));
    const verifier = createAccessTokenVerifier(remoteSettings(signer, url));
    await verifier.verify(await signer.mint({ sub: "u" }));
    for (let i = 0; i < 3; i++) {
      const err = await verifier.verify(await stranger.mint({ sub: "u" })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).not.toBeInstanceOf(DependencyUnavailableError);
      expect(err).toMatchObject({ code: "unauthenticated", message: invalidTokenMessage });
    }
    expect(state.requests).toBe(1);
  });

  it("does not fetch keys for a token that fails before key selection", async () => {
    const signer = await createTestSigner();
    const { state, url } = await serveJwks(() => ({ status: 200, json: signer.jwks }));
    const verifier = createAccessTokenVerifier(remoteSettings(signer, url));
    await expect(verifier.verify("not.a.jwt")).rejects.toMatchObject({ code: "unauthenticated" });
    expect(state.requests).toBe(0);
  });
});

describe("a remote JWKS and remembered tokens", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("stops accepting a remembered token once a refetched set no longer has its key", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const retired = await createTestSigner();
    const current = await createTestSigner();
    let served = retired.jwks;
    const { state, url } = await serveJwks(() => ({ status: 200, json: served }));
    const verifier = createAccessTokenVerifier(remoteSettings(retired, url));
    const token = await retired.mint({ sub: "u", expiresInSeconds: 3_600 });
    expect((await verifier.verify(token)).userId).toBe("u");

    // Identity rotates its key; past the set's maximum age the verifier fetches it again.
    served = current.jwks;
    expect((await verifier.verify(token)).userId).toBe("u");
    vi.setSystemTime(Date.now() + 11 * 60_000);
    const err = await verifier.verify(token).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "unauthenticated", message: invalidTokenMessage });
    expect((err as DomainError).cause).toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(state.requests).toBe(2);
    expect((await verifier.verify(await current.mint({ sub: "v" }))).userId).toBe("v");
  });
});
