import { DomainError } from "@kindred/errors";
import { errors } from "jose";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createAccessTokenVerifier,
  SessionRevocations,
  SessionRevokedError,
} from "../src/index.ts";
import { createTestSigner, type TestSigner } from "../src/testing.ts";

let signer: TestSigner;
/** Signature checks made (jose verifies through WebCrypto). */
let signatureChecks: { mock: { calls: unknown[] } };

beforeAll(async () => {
  signer = await createTestSigner();
});

beforeEach(() => {
  signatureChecks = vi.spyOn(crypto.subtle, "verify");
});

afterEach(() => {
  vi.useRealTimers();
});

const checks = () => signatureChecks.mock.calls.length;

describe("the verifier's memory of verified tokens", () => {
  it("checks a token's signature once while it stays valid", async () => {
    const verifier = createAccessTokenVerifier(signer.settings);
    const token = await signer.mint({ sub: "user-1", sid: "s-1", roles: ["moderator"] });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);
    expect(await verifier.verify(token)).toEqual({
      userId: "user-1",
      sessionId: "s-1",
      roles: ["moderator"],
      expiresAt: expect.any(Date),
    });
    expect(checks()).toBe(1);
    await verifier.verify(await signer.mint({ sub: "user-2" }));
    expect(checks()).toBe(2);
  });

  it("verifies every call in full with a size of 0", async () => {
    const verifier = createAccessTokenVerifier(signer.settings, { cacheSize: 0 });
    const token = await signer.mint({ sub: "u" });
    for (let i = 0; i < 3; i++) await verifier.verify(token);
    expect(checks()).toBe(3);
  });

  it("never remembers a refusal", async () => {
    const verifier = createAccessTokenVerifier(signer.settings);
    const token = await signer.mint({ sub: "u", audience: "another-app" });
    for (let i = 0; i < 2; i++) {
      await expect(verifier.verify(token)).rejects.toMatchObject({ code: "unauthenticated" });
    }
    expect(checks()).toBe(2);
  });

  it("applies a revocation to a remembered token, and forgets it once revoked", async () => {
    const revocations = new SessionRevocations();
    const verifier = createAccessTokenVerifier(signer.settings, { revocations });
    const token = await signer.mint({ sub: "u", sid: "s-gone" });
    await verifier.verify(token);
    revocations.revoke("s-gone", new Date(Date.now() + 600_000));
    for (let i = 0; i < 2; i++) {
      const err = await verifier.verify(token).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).cause).toBeInstanceOf(SessionRevokedError);
    }
    expect(checks()).toBe(1);
  });

  it("reuses a token only until its exp; the full check then applies the clock tolerance", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const verifier = createAccessTokenVerifier(signer.settings);
    const token = await signer.mint({ sub: "u", expiresInSeconds: 60 });
    const { expiresAt } = await verifier.verify(token);
    vi.setSystemTime(expiresAt.getTime() - 1);
    await verifier.verify(token);
    expect(checks()).toBe(1);
    // From exp on, every call is checked in full (which forgives a few seconds of skew)…
    vi.setSystemTime(expiresAt.getTime() + 2_000);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(checks()).toBe(3);
    // …and refuses the token after that.
    vi.setSystemTime(expiresAt.getTime() + 6_000);
    const err = await verifier.verify(token).catch((e: unknown) => e);
    expect((err as DomainError).cause).toBeInstanceOf(errors.JWTExpired);
  });

  it("forgets the least recently used token beyond its size", async () => {
    const verifier = createAccessTokenVerifier(signer.settings, { cacheSize: 2 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((sub) => signer.mint({ sub })));
    for (const token of [a, b, a, c] as string[]) await verifier.verify(token);
    expect(checks()).toBe(3);
    await verifier.verify(a as string);
    await verifier.verify(c as string);
    expect(checks()).toBe(3);
    expect((await verifier.verify(b as string)).userId).toBe("b");
    expect(checks()).toBe(4);
  });
});
