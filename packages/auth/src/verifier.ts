import { DependencyUnavailableError, DomainError } from "@kindred/errors";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSAlgorithm,
  type JWTHeaderParameters,
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
  /**
   * How many verified tokens to remember (`VerifiedTokens`), so a client's next call with the
   * same token skips the signature check. Default 10,000; 0 verifies every call in full.
   */
  cacheSize?: number;
}

/** Verified tokens remembered by default: a few hundred bytes each, a few MB at most. */
export const defaultVerifiedTokenCacheSize = 10_000;

/** The cause of refusing a valid token of a revoked session (logged, never sent). */
export class SessionRevokedError extends Error {
  override readonly name = "SessionRevokedError";
  readonly sessionId: string;

  constructor(sessionId: string) {
    super("session revoked");
    this.sessionId = sessionId;
  }
}

/** A token that passed every check, and what it passed them with. */
interface VerifiedToken {
  principal: Principal;
  /** Its `exp` in ms: the entry is never used from then on (no clock tolerance). */
  expiresAtMs: number;
  /** Its protected header, to ask the key set again which key it would be verified with. */
  header: JWTHeaderParameters;
  /** The key its signature was verified with. */
  key: unknown;
}

/** A compact JWS has no unprotected header: key selection depends on the protected one alone. */
const compactInput: FlattenedJWSInput = { payload: "", signature: "" };

/**
 * Tokens whose signature and claims were verified, by the exact token string, least recently
 * used first; bounded. Only successes are added. An entry is reused only while its token has
 * not expired and the key set still gives the key its signature was checked with — a rotated
 * or removed key (the remote set refetched, as without the cache) ends the reuse at once.
 */
class VerifiedTokens {
  readonly #entries = new Map<string, VerifiedToken>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The entry of `token`, now the most recently used; `undefined` if none. */
  get(token: string): VerifiedToken | undefined {
    const entry = this.#entries.get(token);
    if (entry !== undefined) {
      this.#entries.delete(token);
      this.#entries.set(token, entry);
    }
    return entry;
  }

  add(token: string, entry: VerifiedToken): void {
    if (this.#max <= 0) return;
    this.#entries.delete(token);
    this.#entries.set(token, entry);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }
}

/**
 * Verifies access tokens issued by identity: signature against the configured keys (remote
 * JWKS or inline), `iss`, `aud`, `exp` (required), `nbf`, a present `sub`, and — given a
 * revocation list — a `sid` that has not been revoked. Every service builds one at start and
 * verifies each call itself: the gateway is not the only gate.
 *
 * A token seen before skips the signature and claims checks (`VerifiedTokens`): they give the
 * same answer for the same token string until it expires or the key set changes, and both are
 * checked on every call, as is the revocation list. Failures are never remembered.
 */
export function createAccessTokenVerifier(
  settings: AuthSettings,
  verifierOptions: AccessTokenVerifierOptions = {},
): AccessTokenVerifier {
  const { revocations, cacheSize = defaultVerifiedTokenCacheSize } = verifierOptions;
  const keys = keysFor(settings);
  const verified = new VerifiedTokens(cacheSize);
  const options = {
    issuer: settings.issuer,
    audience: settings.audience,
    algorithms: [...allowedAlgorithms],
    clockTolerance: clockToleranceSeconds,
    requiredClaims: ["exp", "sub"],
  };

  /** The principal of a remembered token that is still good, else `undefined` (verify it). */
  async function remembered(token: string): Promise<Principal | undefined> {
    const entry = verified.get(token);
    if (entry === undefined) return undefined;
    let key: unknown;
    try {
      // Expiry first: a remote set is not asked for keys on behalf of an expired token.
      if (Date.now() < entry.expiresAtMs) key = await keys(entry.header, compactInput);
    } catch {
      // No key for it now (removed, or the keys cannot be fetched): the full check says which.
    }
    if (key !== undefined && key === entry.key) return entry.principal;
    verified.delete(token);
    return undefined;
  }

  async function verifyInFull(token: string): Promise<VerifiedToken> {
    try {
      const { payload, protectedHeader, key } = await jwtVerify(token, keys, options);
      const principal = toPrincipal(payload);
      return {
        principal,
        expiresAtMs: principal.expiresAt.getTime(),
        header: protectedHeader,
        key,
      };
    } catch (err) {
      if (err instanceof JwksFetchFailed) {
        throw new DependencyUnavailableError("jwks", { cause: err.cause });
      }
      throw new DomainError("unauthenticated", invalidTokenMessage, { cause: err });
    }
  }

  /** A verified token's principal, unless its session has been revoked since. */
  function admit(principal: Principal): Principal {
    if (principal.sessionId !== undefined && revocations?.isRevoked(principal.sessionId)) {
      throw new DomainError("unauthenticated", invalidTokenMessage, {
        cause: new SessionRevokedError(principal.sessionId),
      });
    }
    return principal;
  }

  return {
    async verify(token) {
      if (token === "") throw new DomainError("unauthenticated", signInFirstMessage);
      const known = await remembered(token);
      if (known !== undefined) return admit(known);
      const fresh = await verifyInFull(token);
      const principal = admit(fresh.principal);
      // Remembered only while it is valid: one that passed on the clock tolerance is not.
      if (fresh.key !== undefined && Date.now() < fresh.expiresAtMs) verified.add(token, fresh);
      return principal;
    },
  };
}
