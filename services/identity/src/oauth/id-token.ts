import {
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { normalizeEmail } from "../pii.ts";
import { idTokenRejected, providerUnavailable } from "./errors.ts";
import type { OAuthClient } from "./providers.ts";

/** What a verified ID token says about the person. */
export interface ProviderIdentity {
  /** The provider's stable id of the person (`sub`). */
  subject: string;
  /** The normalized e-mail the provider reported, if any. */
  email: string | undefined;
  /** Whether the provider vouches that the person controls `email`. */
  emailVerified: boolean;
  /** The `name` claim, trimmed; Google sends it, Apple does not. */
  name: string | undefined;
}

/** Asymmetric only: Google signs with RS256, Apple with RS256 (ES256 allowed for others). */
const algorithms = ["RS256", "ES256"];

/** Seconds of clock skew forgiven between the provider and us. */
const clockTolerance = 30;

/** Carries a failure to fetch the provider's keys out of jose, so it is not taken for a bad token. */
class JwksFetchFailed extends Error {
  override readonly name = "JwksFetchFailed";
}

function isFetchFailure(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return (
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid ||
    err.code === errors.JOSEError.code
  );
}

/**
 * The provider's keys, fetched on first use and cached: refreshed every 10 minutes, and at most
 * every 30 s on an unknown `kid` (providers rotate keys), so forged `kid`s cannot hammer them.
 */
function providerKeys(jwksUrl: string, fetchImpl: typeof fetch): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(jwksUrl), {
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
    cacheMaxAge: 600_000,
    [customFetch]: fetchImpl,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (isFetchFailure(err)) throw new JwksFetchFailed("JWKS fetch failed", { cause: err });
      throw err;
    }
  };
}

/** `email_verified` is a boolean at Google and has been the string "true" at Apple. */
const isTrue = (value: unknown) => value === true || value === "true";

function identityOf(payload: JWTPayload): ProviderIdentity {
  const { sub, email, email_verified: verified, name } = payload;
  if (typeof sub !== "string" || sub === "" || sub.length > 255) {
    throw new TypeError('"sub" must be a string of 1 to 255 characters');
  }
  const address =
    typeof email === "string" && email.length <= 254 && email.includes("@")
      ? normalizeEmail(email)
      : undefined;
  const trimmed = typeof name === "string" ? name.normalize("NFC").trim() : "";
  return {
    subject: sub,
    email: address,
    emailVerified: address !== undefined && isTrue(verified),
    name: trimmed === "" ? undefined : trimmed,
  };
}

/**
 * Verifies a provider's ID token (OpenID Connect Core §3.1.3.7): signature against the
 * provider's JWKS with an asymmetric algorithm, `iss`, `aud` = our client id (and `azp` when
 * there are several audiences), `exp`, and `nonce` equal to the one this flow sent, which
 * binds the token to the flow and stops a token from another flow being replayed.
 */
export class IdTokenVerifier {
  readonly #client: OAuthClient;
  readonly #keys: JWTVerifyGetKey;

  constructor(client: OAuthClient, fetchImpl: typeof fetch) {
    this.#client = client;
    this.#keys = providerKeys(client.jwksUrl, fetchImpl);
  }

  async verify(idToken: string, nonce: string): Promise<ProviderIdentity> {
    const client = this.#client;
    try {
      const { payload } = await jwtVerify(idToken, this.#keys, {
        issuer: [...client.issuers],
        audience: client.clientId,
        algorithms,
        clockTolerance,
        requiredClaims: ["sub", "exp", "iat", "nonce"],
      });
      if (payload.nonce !== nonce) throw new Error("the ID token's nonce is not this flow's");
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== client.clientId) {
        throw new Error("the ID token has several audiences and another authorized party");
      }
      return identityOf(payload);
    } catch (err) {
      if (err instanceof JwksFetchFailed) throw providerUnavailable(client.label, err.cause);
      // Only the message: jose's claim errors carry the whole payload (e-mail, name) along.
      throw idTokenRejected(
        client.label,
        new Error(err instanceof Error ? err.message : String(err)),
      );
    }
  }
}
