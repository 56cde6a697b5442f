import { generateKeyPairSync } from "node:crypto";
import { DomainError } from "@kindred/errors";
import {
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import { describe, expect, it } from "vitest";
import { loadIdentityConfig } from "../src/config.ts";
import {
  AppleClientSecret,
  appleClientSecretClaims,
  appleSigningKey,
} from "../src/oauth/apple-client-secret.ts";
import { displayNameFor } from "../src/oauth/flows.ts";
import { IdTokenVerifier } from "../src/oauth/id-token.ts";
import { newPkce, s256Challenge } from "../src/oauth/pkce.ts";
import { authorizationUrlOf, oauthClients } from "../src/oauth/providers.ts";
import { redeemCode } from "../src/oauth/token-endpoint.ts";

async function appleKeyPem() {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { pem: await exportPKCS8(privateKey), publicKey };
}

const settingsWith = (vars: Record<string, string>) =>
  loadIdentityConfig({ KINDRED_ENV: "test", ...vars }).oauth;

describe("PKCE", () => {
  it("derives the S256 challenge of RFC 7636 appendix B", () => {
    expect(s256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("makes a fresh 43-character verifier in the unreserved alphabet each time", () => {
    const a = newPkce();
    const b = newPkce();
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.challenge).toBe(s256Challenge(a.verifier));
    expect(a.verifier).not.toBe(b.verifier);
  });
});

describe("providers", () => {
  it("enables Google with a client id, and Apple only with client id, team id, key id and key", async () => {
    const { pem } = await appleKeyPem();
    expect(Object.keys(oauthClients(settingsWith({})))).toEqual([]);
    expect(Object.keys(oauthClients(settingsWith({ OAUTH_GOOGLE_CLIENT_ID: "g" })))).toEqual([
      "google",
    ]);
    const apple = { OAUTH_APPLE_CLIENT_ID: "a", OAUTH_APPLE_TEAM_ID: "T", OAUTH_APPLE_KEY_ID: "K" };
    expect(Object.keys(oauthClients(settingsWith(apple)))).toEqual([]);
    expect(
      Object.keys(oauthClients(settingsWith({ ...apple, OAUTH_APPLE_PRIVATE_KEY: pem }))),
    ).toEqual(["apple"]);
  });

  it("refuses an Apple key that is not a P-256 PKCS#8 key, without echoing it", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;
    expect(() => appleSigningKey(rsa)).toThrow("must be an ES256 (P-256) key");
    const garbage = "-----BEGIN PRIVATE KEY-----\nsecret-material\n-----END PRIVATE KEY-----";
    let message = "";
    try {
      appleSigningKey(garbage);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe("OAUTH_APPLE_PRIVATE_KEY is not a PKCS#8 PEM private key");
  });

  it("accepts an Apple key pasted with literal \\n sequences", async () => {
    const { pem } = await appleKeyPem();
    expect(appleSigningKey(pem.trim().replaceAll("\n", "\\n")).asymmetricKeyType).toBe("ec");
  });

  it("builds Google's authorization URL with PKCE S256, state and nonce, keeping the endpoint's own query", () => {
    const { google } = oauthClients(
      settingsWith({
        OAUTH_GOOGLE_CLIENT_ID: "client-1",
        OAUTH_GOOGLE_AUTHORIZATION_URL: "https://idp.example/auth?hd=example.org",
      }),
    );
    if (google === undefined) throw new Error("google is configured");
    const url = new URL(
      authorizationUrlOf(google, {
        redirectUri: "https://app.example/cb",
        state: "the-state",
        nonce: "the-nonce",
        codeChallenge: "the-challenge",
      }),
    );
    expect(url.origin + url.pathname).toBe("https://idp.example/auth");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      hd: "example.org",
      response_type: "code",
      client_id: "client-1",
      redirect_uri: "https://app.example/cb",
      scope: "openid email profile",
      state: "the-state",
      nonce: "the-nonce",
      code_challenge: "the-challenge",
      code_challenge_method: "S256",
    });
  });

  it("asks Apple for the e-mail with response_mode=form_post, as Apple requires for any scope", async () => {
    const { pem } = await appleKeyPem();
    const { apple } = oauthClients(
      settingsWith({
        OAUTH_APPLE_CLIENT_ID: "app.kindred.web",
        OAUTH_APPLE_TEAM_ID: "TEAM123456",
        OAUTH_APPLE_KEY_ID: "KEY1234567",
        OAUTH_APPLE_PRIVATE_KEY: pem,
      }),
    );
    if (apple === undefined) throw new Error("apple is configured");
    const url = new URL(
      authorizationUrlOf(apple, {
        redirectUri: "https://kindred.example/oauth/apple",
        state: "s",
        nonce: "n",
        codeChallenge: "c",
      }),
    );
    expect(url.origin + url.pathname).toBe("https://appleid.apple.com/auth/authorize");
    expect(url.searchParams.get("scope")).toBe("openid email");
    expect(url.searchParams.get("response_mode")).toBe("form_post");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(apple.issuers).toEqual(["https://appleid.apple.com"]);
  });
});

describe("Apple client secret", () => {
  const settings = {
    teamId: "TEAM123456",
    clientId: "app.kindred.web",
    keyId: "KEY1234567",
    audience: "https://appleid.apple.com",
  };

  it("has iss = team id, sub = client id, aud = Apple, and lives an hour (Apple allows six months)", () => {
    expect(appleClientSecretClaims(settings, 1_000)).toEqual({
      iss: "TEAM123456",
      sub: "app.kindred.web",
      aud: "https://appleid.apple.com",
      iat: 1_000,
      exp: 4_600,
    });
  });

  it("is an ES256 JWT with the key id, verifiable with the public key, reused until near expiry", async () => {
    const { pem, publicKey } = await appleKeyPem();
    const secret = new AppleClientSecret(settings, appleSigningKey(pem));
    const t0 = Date.now();
    const jwt = await secret.get(t0);
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "ES256", kid: "KEY1234567" });
    const { payload } = await jwtVerify(jwt, publicKey, {
      issuer: settings.teamId,
      subject: settings.clientId,
      audience: settings.audience,
      algorithms: ["ES256"],
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3_600);
    expect(await secret.get(t0 + 49 * 60_000)).toBe(jwt);
    const renewed = await secret.get(t0 + 51 * 60_000);
    expect(renewed).not.toBe(jwt);
    expect(decodeJwt(renewed).iat).toBe(Math.floor((t0 + 51 * 60_000) / 1000));
  });
});

describe("display name of a new account", () => {
  const person = { subject: "s", email: undefined, emailVerified: false, name: undefined };

  it("takes the name claim, else the e-mail's local part, else names the provider", () => {
    expect(displayNameFor({ ...person, name: "Ada Lovelace" }, "Google")).toBe("Ada Lovelace");
    expect(displayNameFor({ ...person, email: "ada.l@example.org" }, "Apple")).toBe("ada.l");
    expect(displayNameFor(person, "Apple")).toBe("Apple user");
  });

  it("keeps at most 64 characters without splitting a character", () => {
    const name = `${"x".repeat(63)}😀😀`;
    const shown = displayNameFor({ ...person, name }, "Google");
    expect(Array.from(shown)).toHaveLength(64);
    expect(shown.endsWith("😀")).toBe(true);
  });
});

describe("token endpoint", () => {
  const client = oauthClients(
    settingsWith({
      OAUTH_GOOGLE_CLIENT_ID: "client-1",
      OAUTH_GOOGLE_CLIENT_SECRET: "s3cret",
      OAUTH_GOOGLE_TOKEN_URL: "https://idp.example/token",
    }),
  ).google;
  if (client === undefined) throw new Error("google is configured");
  const exchange = {
    code: "the-code",
    redirectUri: "https://app.example/cb",
    codeVerifier: "v".repeat(43),
  };
  const answer = (status: number, body: unknown) => async () =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  async function failure(fetchImpl: typeof fetch): Promise<DomainError> {
    try {
      await redeemCode(fetchImpl, client as NonNullable<typeof client>, exchange);
    } catch (err) {
      if (err instanceof DomainError) return err;
      throw err;
    }
    throw new Error("expected redeemCode to fail");
  }

  it("posts the code, redirect URI, client id and secret, and PKCE verifier as a form", async () => {
    let seen: { url: string; init: RequestInit | undefined } | undefined;
    const fetchImpl = (async (url: string, init?: RequestInit) => {
      seen = { url, init };
      return answer(200, { id_token: "a.b.c", access_token: "x", token_type: "Bearer" })();
    }) as typeof fetch;
    expect(await redeemCode(fetchImpl, client, exchange)).toBe("a.b.c");
    expect(seen?.url).toBe("https://idp.example/token");
    expect(seen?.init?.method).toBe("POST");
    expect(Object.fromEntries(new URLSearchParams(String(seen?.init?.body)))).toEqual({
      grant_type: "authorization_code",
      code: "the-code",
      redirect_uri: "https://app.example/cb",
      client_id: "client-1",
      code_verifier: "v".repeat(43),
      client_secret: "s3cret",
    });
  });

  it("tells a rejected code from a provider that is down, and never passes on the provider's words", async () => {
    const rejected = await failure(
      answer(400, {
        error: "invalid_grant",
        error_description: "Bad code_verifier xyz",
      }) as typeof fetch,
    );
    expect(rejected).toMatchObject({ code: "unauthenticated", reason: "OAUTH_CODE_REJECTED" });
    expect(rejected.message).toBe("Google did not accept the sign-in; start again");
    expect(String((rejected.cause as Error).message)).toContain("invalid_grant");

    for (const fetchImpl of [
      answer(503, { error: "temporarily_unavailable" }),
      answer(401, { error: "invalid_client" }),
      answer(200, { access_token: "only" }),
      async () => new Response("<html>oops</html>", { status: 502 }),
      async () => {
        throw new TypeError("fetch failed");
      },
    ]) {
      const down = await failure(fetchImpl as typeof fetch);
      expect(down).toMatchObject({ code: "unavailable", reason: "OAUTH_PROVIDER_UNAVAILABLE" });
      expect(down.message).toBe("Google cannot be reached right now; try again later");
    }
  });
});

describe("ID token verification", () => {
  const issuer = "https://idp.example";
  const client = oauthClients(
    settingsWith({
      OAUTH_GOOGLE_CLIENT_ID: "client-1",
      OAUTH_GOOGLE_ISSUER: issuer,
      OAUTH_GOOGLE_JWKS_URL: `${issuer}/jwks`,
    }),
  ).google;
  if (client === undefined) throw new Error("google is configured");

  async function provider() {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256" };
    const fetchImpl = (async () =>
      new Response(JSON.stringify({ keys: [jwk] }), {
        headers: { "content-type": "application/json" },
      })) as unknown as typeof fetch;
    const sign = (claims: Record<string, unknown>, aud: string | string[] = "client-1") =>
      new SignJWT({ nonce: "n-1", ...claims })
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuer(issuer)
        .setAudience(aud)
        .setSubject("person-1")
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
    return { fetchImpl, sign };
  }

  async function refusal(verifier: IdTokenVerifier, token: string): Promise<DomainError> {
    const err = await verifier.verify(token, "n-1").catch((e: unknown) => e);
    if (err instanceof DomainError) return err;
    throw new Error(`expected a DomainError, got ${String(err)}`);
  }

  it("returns the subject, and the e-mail as verified only when the provider says so", async () => {
    const { fetchImpl, sign } = await provider();
    const verifier = new IdTokenVerifier(client, fetchImpl);
    expect(
      await verifier.verify(
        await sign({ email: " Ada@Example.ORG ", email_verified: true, name: " Ada " }),
        "n-1",
      ),
    ).toEqual({ subject: "person-1", email: "ada@example.org", emailVerified: true, name: "Ada" });
    expect(
      await verifier.verify(
        await sign({ email: "ada@example.org", email_verified: "false" }),
        "n-1",
      ),
    ).toMatchObject({ email: "ada@example.org", emailVerified: false, name: undefined });
  });

  it("refuses a symmetric algorithm, a missing nonce, and another authorized party", async () => {
    const { fetchImpl, sign } = await provider();
    const verifier = new IdTokenVerifier(client, fetchImpl);
    const hs256 = await new SignJWT({ nonce: "n-1" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience("client-1")
      .setSubject("person-1")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("a shared secret that anyone could guess"));
    for (const token of [
      hs256,
      await sign({ nonce: undefined }),
      await sign({ azp: "someone-else" }, ["client-1", "someone-else"]),
    ]) {
      expect(await refusal(verifier, token)).toMatchObject({
        code: "unauthenticated",
        reason: "OAUTH_ID_TOKEN_INVALID",
      });
    }
    expect(
      await verifier.verify(await sign({ azp: "client-1" }, ["client-1", "other"]), "n-1"),
    ).toMatchObject({ subject: "person-1" });
  });

  it("counts keys it cannot fetch as the provider being unavailable, not as a bad token", async () => {
    const { sign } = await provider();
    const down = (async () => {
      throw new TypeError("fetch failed");
    }) as unknown as typeof fetch;
    const err = await refusal(new IdTokenVerifier(client, down), await sign({}));
    expect(err).toMatchObject({ code: "unavailable", reason: "OAUTH_PROVIDER_UNAVAILABLE" });
  });
});
