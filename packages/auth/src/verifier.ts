import { DependencyUnavailableError, DomainError } from "@kindred/errors";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWSAlgorithm,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { invalidTokenMessage, type Principal, signInFirstMessage } from "./principal.ts";
import type { RevocationList } from "./session-revocations.ts";
import type { AuthSettings } from "./settings.ts";

export interface AccessTokenVerifier {
  /**
   * The principal of a valid access token. Throws `DomainError("unauthenticated")` for a missing
   * or invalid token (the cause says why, for logs only) and `DependencyUnavailableError("jwks")`
   * when the keys cannot be fetched, so an identity outage is not reported as a bad token.
   */
  verify(token: string): Promise<Principal>;
}

/**
 * Asymmetric only: with a symmetric algorithm allowed, a token "signed" with the public key
 * (which anyone can read from the JWKS) would pass. `none` is never accepted either.
 */
export const allowedAlgorithms: readonly JWSAlgorithm[] = ["EdDSA", "ES256"];

/** Seconds of clock skew forgiven between identity and this service on `exp` and `nbf`. */
export const clockToleranceSeconds = 5;

/**
 * Remote keys: a fetch gives up after 5 s; a token with an unknown `kid` (a key identity just
 * started using) triggers a refetch at most every 30 s, so forged `kid`s cannot hammer identity;
 * the set is refreshed at least every 10 minutes so removed keys stop being trusted.
 */
const remoteJwksOptions = {
  timeoutDuration: 5_000,
  cooldownDuration: 30_000,
  cacheMaxAge: 600_000,
} as const;

/** Carries a failure to fetch keys out of jose, so it is not mistaken for a bad token. */
class JwksFetchFailed extends Error {
  override readonly name = "JwksFetchFailed";
}

/**
 * Failures of the JWKS endpoint rather than of the token: the network (a non-jose error such
 * as `fetch failed`), a timeout, a non-200 answer or unparsable JSON (a bare `JOSEError`), or a
 * body that is not a key set.
 */
function isFetchFailure(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return (
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid ||
    err.code === errors.JOSEError.code
  );
}

function remoteKeys(url: string): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(url), remoteJwksOptions);
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (isFetchFailure(err)) throw new JwksFetchFailed("JWKS fetch failed", { cause: err });
      throw err;
    }
  };
}

function localKeys(json: string): JWTVerifyGetKey {
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(json) as JSONWebKeySet;
    // Validates the shape now, so a bad set fails at start, not on the first request.
    return createLocalJWKSet(jwks);
  } catch (err) {
    // The value is not echoed: config validation (`authVars`) already named the problem.
    throw new TypeError("AUTH_JWKS is not a valid JSON Web Key Set", { cause: err });
  }
}

/** No keys configured (allowed outside production): nothing can be verified. */
const noKeys: JWTVerifyGetKey = () => {
  throw new errors.JWKSNoMatchingKey("no verification keys are configured");
};

function keysFor(settings: AuthSettings): JWTVerifyGetKey {
  const hasUrl = settings.jwksUrl !== undefined && settings.jwksUrl !== "";
  const hasInline = settings.jwks !== undefined && settings.jwks !== "";
  if (hasUrl && hasInline) throw new TypeError("set only one of AUTH_JWKS_URL and AUTH_JWKS");
  if (hasUrl) return remoteKeys(settings.jwksUrl as string);
  if (hasInline) return localKeys(settings.jwks as string);
  return noKeys;
}

/** A claim that decides access must have exactly its type; anything else is forged or broken. */
function toPrincipal(payload: JWTPayload): Principal {
  const { sub, sid, roles, exp } = payload;
  if (typeof sub !== "string" || sub === "")
    throw new TypeError('"sub" must be a non-empty string');
  if (sid !== undefined && typeof sid !== "string") throw new TypeError('"sid" must be a string');
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((r) => typeof r === "string"))) {
    throw new TypeError('"roles" must be an array of strings');
  }
  return Object.freeze({
    userId: sub,
    sessionId: sid,
    roles: Object.freeze([...((roles as string[] | undefined) ?? [])]),
    expiresAt: new Date((exp as number) * 1000),
  });
}

export interface AccessTokenVerifierOptions {
  /**
   * Sessions that ended early (`SessionRevocations`, filled from identity's events): a token
   * whose `sid` is listed is refused although its signature and claims are valid.
   */
  revocations?: RevocationList;
}

/** The cause of refusing a valid token of a revoked session (logged, never sent). */
export class SessionRevokedError extends Error {
  override readonly name = "SessionRevokedError";
  readonly sessionId: string;

  constructor(sessionId: string) {
    super("session revoked");
    this.sessionId = sessionId;
  }
}

/**
 * Verifies access tokens issued by identity: signature against the configured keys (remote
 * JWKS or inline), `iss`, `aud`, `exp` (required), `nbf`, a present `sub`, and — given a
 * revocation list — a `sid` that has not been revoked. Every service builds one at start and
 * verifies each call itself: the gateway is not the only gate.
 */
export function createAccessTokenVerifier(
  settings: AuthSettings,
  verifierOptions: AccessTokenVerifierOptions = {},
): AccessTokenVerifier {
  const { revocations } = verifierOptions;
  const keys = keysFor(settings);
  const options = {
    issuer: settings.issuer,
    audience: settings.audience,
    algorithms: [...allowedAlgorithms],
    clockTolerance: clockToleranceSeconds,
    requiredClaims: ["exp", "sub"],
  };
  return {
    async verify(token) {
      if (token === "") throw new DomainError("unauthenticated", signInFirstMessage);
      try {
        const { payload } = await jwtVerify(token, keys, options);
        const principal = toPrincipal(payload);
        if (principal.sessionId !== undefined && revocations?.isRevoked(principal.sessionId)) {
          throw new SessionRevokedError(principal.sessionId);
        }
        return principal;
      } catch (err) {
        if (err instanceof JwksFetchFailed) {
          throw new DependencyUnavailableError("jwks", { cause: err.cause });
        }
        throw new DomainError("unauthenticated", invalidTokenMessage, { cause: err });
      }
    },
  };
}
