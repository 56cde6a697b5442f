import { DependencyUnavailableError, DomainError } from "@kindred/errors";
import { base64url, errors, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AccessTokenVerifier,
  authenticateBearer,
  bearerRefusal,
  createAccessTokenVerifier,
  invalidTokenMessage,
  signInFirstMessage,
} from "../src/index.ts";
import { createTestSigner, type TestSigner } from "../src/testing.ts";

let signer: TestSigner;
let verifier: AccessTokenVerifier;

beforeAll(async () => {
  signer = await createTestSigner();
  verifier = createAccessTokenVerifier(signer.settings);
});

/** Asserts the one client-facing failure and returns the internal cause, for the "why". */
async function rejection(token: string, v = verifier): Promise<unknown> {
  const err = await v.verify(token).then(
    () => expect.fail("the token was accepted"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  expect(err).toMatchObject({ code: "unauthenticated", message: invalidTokenMessage });
  return (err as DomainError).cause;
}

describe("createAccessTokenVerifier", () => {
  it("turns a valid token into a principal", async () => {
    const before = Date.now();
    const token = await signer.mint({ sub: "user-1", sid: "session-1", roles: ["admin"] });
    const principal = await verifier.verify(token);
    expect(principal).toEqual({
      userId: "user-1",
      sessionId: "session-1",
      roles: ["admin"],
      expiresAt: expect.any(Date),
    });
    const lifetime = principal.expiresAt.getTime() - before;
    expect(lifetime).toBeGreaterThan(590_000);
    expect(lifetime).toBeLessThanOrEqual(600_000);
  });

  it("defaults roles to none and sid to undefined", async () => {
    const token = await signer.signRaw({
      iss: "kindred-identity",
      aud: "kindred",
      sub: "user-2",
      exp: Math.floor(Date.now() / 1000) + 60,
    });
    expect(await verifier.verify(token)).toMatchObject({
      userId: "user-2",
      sessionId: undefined,
      roles: [],
    });
  });

  it("accepts a token whose aud lists this audience among others", async () => {
    const token = await signer.signRaw({
      iss: "kindred-identity",
      aud: ["other", "kindred"],
      sub: "user-3",
      exp: Math.floor(Date.now() / 1000) + 60,
    });
    expect((await verifier.verify(token)).userId).toBe("user-3");
  });

  it("rejects an expired token", async () => {
    const cause = await rejection(await signer.mint({ sub: "u", expiresInSeconds: -60 }));
    expect(cause).toBeInstanceOf(errors.JWTExpired);
  });

  it("forgives a few seconds of clock skew", async () => {
    const token = await signer.mint({ sub: "u", expiresInSeconds: -2 });
    expect((await verifier.verify(token)).userId).toBe("u");
  });

  it("rejects a token without exp", async () => {
    const token = await signer.signRaw({ iss: "kindred-identity", aud: "kindred", sub: "u" });
    expect(await rejection(token)).toMatchObject({ claim: "exp", reason: "missing" });
  });

  it("rejects a token that is not valid yet", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signer.signRaw({
      iss: "kindred-identity",
      aud: "kindred",
      sub: "u",
      nbf: now + 120,
      exp: now + 600,
    });
    expect(await rejection(token)).toMatchObject({ claim: "nbf" });
  });

  it("rejects the wrong issuer", async () => {
    const cause = await rejection(await signer.mint({ sub: "u", issuer: "evil-identity" }));
    expect(cause).toMatchObject({ claim: "iss", reason: "check_failed" });
  });

  it("rejects the wrong audience", async () => {
    const cause = await rejection(await signer.mint({ sub: "u", audience: "another-app" }));
    expect(cause).toMatchObject({ claim: "aud", reason: "check_failed" });
  });

  it("rejects a token signed by a key it does not know", async () => {
    const stranger = await createTestSigner();
    const cause = await rejection(await stranger.mint({ sub: "u" }));
    expect(cause).toBeInstanceOf(errors.JWKSNoMatchingKey);
  });

  it("rejects a token signed by another key under a trusted kid", async () => {
    const forger = await createTestSigner({ kid: signer.kid });
    const cause = await rejection(await forger.mint({ sub: "u" }));
    expect(cause).toBeInstanceOf(errors.JWSSignatureVerificationFailed);
  });

  it("rejects a tampered payload", async () => {
    const [header, , signature] = (await signer.mint({ sub: "user-1" })).split(".");
    const payload = base64url.encode(
      JSON.stringify({ iss: "kindred-identity", aud: "kindred", sub: "admin", exp: 4e9 }),
    );
    const cause = await rejection(`${header}.${payload}.${signature}`);
    expect(cause).toBeInstanceOf(errors.JWSSignatureVerificationFailed);
  });

  it("rejects alg none", async () => {
    const token = new UnsecuredJWT({ sub: "u", exp: 4e9 })
      .setIssuer("kindred-identity")
      .setAudience("kindred")
      .encode();
    expect(await rejection(token)).toBeInstanceOf(errors.JOSEAlgNotAllowed);
  });

  it("rejects HS256 signed with the public key as the secret", async () => {
    const publicJwk = JSON.parse(signer.jwks).keys[0];
    for (const secret of [
      new TextEncoder().encode(signer.jwks),
      base64url.decode(publicJwk.x as string),
    ]) {
      const token = await new SignJWT({ sub: "admin" })
        .setProtectedHeader({ alg: "HS256", kid: signer.kid })
        .setIssuer("kindred-identity")
        .setAudience("kindred")
        .setExpirationTime("10m")
        .sign(secret);
      expect(await rejection(token)).toBeInstanceOf(errors.JOSEAlgNotAllowed);
    }
  });

  it("rejects a token without sub", async () => {
    const token = await signer.signRaw({ iss: "kindred-identity", aud: "kindred", exp: 4e9 });
    expect(await rejection(token)).toMatchObject({ claim: "sub", reason: "missing" });
  });

  it("rejects claims of the wrong type", async () => {
    const base = { iss: "kindred-identity", aud: "kindred", exp: 4e9 };
    await rejection(await signer.signRaw({ ...base, sub: "" }));
    await rejection(await signer.signRaw({ ...base, sub: "u", roles: "admin" }));
    await rejection(await signer.signRaw({ ...base, sub: "u", roles: ["admin", 1] }));
    await rejection(await signer.signRaw({ ...base, sub: "u", sid: 7 }));
  });

  it("rejects garbage", async () => {
    for (const token of ["x", "a.b.c", "Bearer abc"]) await rejection(token);
  });

  it("asks a caller without a token to sign in", async () => {
    await expect(verifier.verify("")).rejects.toMatchObject({
      code: "unauthenticated",
      message: signInFirstMessage,
    });
  });

  it("rejects every token when no keys are configured", async () => {
    const keyless = createAccessTokenVerifier({ issuer: "kindred-identity", audience: "kindred" });
    await rejection(await signer.mint({ sub: "u" }), keyless);
  });

  it("refuses two key sources and a broken inline set at construction", () => {
    expect(() =>
      createAccessTokenVerifier({ ...signer.settings, jwksUrl: "http://127.0.0.1:1/jwks" }),
    ).toThrow("set only one of AUTH_JWKS_URL and AUTH_JWKS");
    expect(() => createAccessTokenVerifier({ ...signer.settings, jwks: '{"keys": 1}' })).toThrow(
      "AUTH_JWKS is not a valid JSON Web Key Set",
    );
  });
});

describe("authenticateBearer", () => {
  it("verifies the bearer token of a header", async () => {
    const token = await signer.mint({ sub: "user-ws" });
    expect((await authenticateBearer(`Bearer ${token}`, verifier)).userId).toBe("user-ws");
    expect((await authenticateBearer(`bearer  ${token}`, verifier)).userId).toBe("user-ws");
  });

  it("asks for a token when the header is missing or empty", async () => {
    for (const header of [undefined, "", "  "]) {
      await expect(authenticateBearer(header, verifier)).rejects.toMatchObject({
        code: "unauthenticated",
        message: signInFirstMessage,
      });
    }
  });

  it("treats another scheme or a malformed header as an invalid token", async () => {
    const token = await signer.mint({ sub: "u" });
    for (const header of [`Basic ${token}`, "Bearer", `Bearer ${token} extra`, token]) {
      await expect(authenticateBearer(header, verifier)).rejects.toMatchObject({
        code: "unauthenticated",
        message: invalidTokenMessage,
      });
    }
  });
});

describe("bearerRefusal", () => {
  it("answers a refused token with 401 and a JWKS outage with 503, with the safe message", async () => {
    const refused = await authenticateBearer("Bearer garbage", verifier).catch((e: unknown) => e);
    expect(bearerRefusal(refused)).toEqual({
      status: 401,
      code: "unauthenticated",
      message: invalidTokenMessage,
    });
    expect(bearerRefusal(new DependencyUnavailableError("jwks"))).toEqual({
      status: 503,
      code: "unavailable",
      message: "the service is temporarily unavailable, retry later",
    });
  });

  it("leaves other errors to the caller", () => {
    expect(bearerRefusal(new TypeError("a bug"))).toBeUndefined();
  });
});
