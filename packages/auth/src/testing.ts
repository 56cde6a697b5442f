import { randomUUID } from "node:crypto";
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import type { AuthSettings } from "./settings.ts";

/**
 * Mints access tokens for tests, until identity issues real ones (and after, for tests of one
 * service alone). Services under test trust it by being given `jwks` as `AUTH_JWKS` (or
 * `settings` directly). The private key lives only in this process's memory.
 */
export interface TestSigner {
  /** The public key set, as JSON for `AUTH_JWKS` (or to serve as a JWKS endpoint). */
  readonly jwks: string;
  /** The `kid` of the signing key. */
  readonly kid: string;
  /** Settings that trust this signer: its issuer, audience and inline `jwks`. */
  readonly settings: AuthSettings;
  /** A token shaped like identity's: `iss` `aud` `sub` `sid` `roles` `iat` `nbf` `exp` `jti`. */
  mint(claims: MintClaims): Promise<string>;
  /**
   * Signs exactly `payload`, with no claims added, for tests of malformed tokens (no `sub`,
   * `roles` of the wrong type). `header` may override `kid` or `typ`; `alg` stays EdDSA.
   */
  signRaw(payload: JWTPayload, header?: { kid?: string; typ?: string }): Promise<string>;
}

export interface MintClaims {
  sub: string;
  roles?: string[];
  sid?: string;
  /** Lifetime from now; negative for a token that has already expired. Default 600 (10 min). */
  expiresInSeconds?: number;
  issuer?: string;
  audience?: string;
}

export interface TestSignerOptions {
  issuer?: string;
  audience?: string;
  /** Default: a fresh random id. Two signers with one `kid` model a forged key. */
  kid?: string;
}

export async function createTestSigner(options: TestSignerOptions = {}): Promise<TestSigner> {
  const issuer = options.issuer ?? "kindred-identity";
  const audience = options.audience ?? "kindred";
  const kid = options.kid ?? `test-${randomUUID()}`;
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", {
    crv: "Ed25519",
    extractable: true,
  });
  const jwks = JSON.stringify({
    keys: [{ ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" }],
  });

  const sign = (key: CryptoKey, payload: JWTPayload, header: { kid?: string; typ?: string }) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: "EdDSA", kid: header.kid ?? kid, typ: header.typ ?? "JWT" })
      .sign(key);

  return {
    jwks,
    kid,
    settings: { issuer, audience, jwks },
    async mint(claims) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + (claims.expiresInSeconds ?? 600);
      const payload: JWTPayload = {
        iss: claims.issuer ?? issuer,
        aud: claims.audience ?? audience,
        sub: claims.sub,
        roles: claims.roles ?? [],
        iat: Math.min(now, exp),
        nbf: Math.min(now, exp),
        exp,
        jti: randomUUID(),
        ...(claims.sid === undefined ? {} : { sid: claims.sid }),
      };
      return sign(privateKey, payload, {});
    },
    signRaw: (payload, header = {}) => sign(privateKey, payload, header),
  };
}
