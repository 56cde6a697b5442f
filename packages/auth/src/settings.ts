import { ConfigError, type ConfigIssue, env, type KindredEnv } from "@kindred/config";

/** Where a service finds the keys access tokens are checked against, and what they must say. */
export interface AuthSettings {
  /** The expected `iss`. */
  issuer: string;
  /** The expected `aud` (a token may name several audiences; one must match). */
  audience: string;
  /** A JWKS endpoint (identity's `/.well-known/jwks.json`), fetched and cached. */
  jwksUrl?: string | undefined;
  /** An inline JWKS as JSON, for tests and for a service pinned to known keys. */
  jwks?: string | undefined;
  /**
   * How far back a starting process reads session revocations: the longest access-token
   * lifetime plus clock skew, so it refuses tokens of sessions revoked just before it started.
   */
  revocationLookbackMs?: number;
}

/** Identity's longest default access-token lifetime (10 min) plus a margin for skew and delay. */
export const defaultRevocationLookbackMs = 15 * 60_000;

/**
 * Checks that an inline JWKS is at least shaped like one. The value is never echoed: it is
 * public key material, but an operator who pasted the wrong thing may have pasted a secret.
 */
export function jwksShapeProblem(raw: string): string | undefined {
  const expected =
    'must be a JSON Web Key Set: {"keys": [{"kty": ...}, ...]} with at least one key';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return `is not valid JSON; it ${expected}`;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return expected;
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) return expected;
  const wellFormed = (key: unknown) =>
    key !== null && typeof key === "object" && typeof (key as { kty?: unknown }).kty === "string";
  return keys.every(wellFormed) ? undefined : expected;
}

/**
 * The variables of token verification, as a schema fragment a service spreads into its own
 * config (`extra` of `loadServiceConfig`). Neither key source is required here because a shape
 * fragment checks each variable alone; "one of the two" is a rule across variables, which
 * `checkAuthSettings` (or `toAuthSettings(vars, kindredEnv)`) applies after parsing.
 */
export function authVars(_kindredEnv: KindredEnv) {
  return {
    AUTH_ISSUER: env.string({ default: "kindred-identity" }),
    AUTH_AUDIENCE: env.string({ default: "kindred" }),
    AUTH_JWKS_URL: env.optionalUrl(["http:", "https:"]),
    AUTH_JWKS: env.optionalString().superRefine((value, ctx) => {
      const problem = value === undefined ? undefined : jwksShapeProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    }),
    /** Raise it with identity's ACCESS_TOKEN_TTL_SECONDS; at most a day (the stream keeps 7). */
    AUTH_REVOCATION_LOOKBACK_MS: env.millis({
      default: defaultRevocationLookbackMs,
      max: 86_400_000,
    }),
  };
}

/**
 * Rules across the variables. In production a service with no keys could authenticate no one,
 * which is a deployment mistake to stop at start; elsewhere it is allowed (a service under
 * development that takes no authenticated calls) and every token is simply refused. Both
 * sources at once is refused everywhere, so it is never a guess which one is trusted.
 */
export function checkAuthSettings(settings: AuthSettings, kindredEnv: KindredEnv): ConfigIssue[] {
  const hasUrl = settings.jwksUrl !== undefined && settings.jwksUrl !== "";
  const hasInline = settings.jwks !== undefined && settings.jwks !== "";
  if (hasUrl && hasInline) {
    return [{ variable: "AUTH_JWKS", message: "and AUTH_JWKS_URL are both set; set only one" }];
  }
  if (!hasUrl && !hasInline && kindredEnv === "production") {
    return [{ variable: "AUTH_JWKS_URL", message: "is required (or AUTH_JWKS)" }];
  }
  return [];
}

/**
 * Turns the parsed variables into `AuthSettings`. Given `kindredEnv`, it also applies
 * `checkAuthSettings` and throws its issues as a `ConfigError`, the one-call way for a service.
 */
export function toAuthSettings(
  vars: Readonly<Record<string, unknown>>,
  kindredEnv?: KindredEnv,
): AuthSettings & { revocationLookbackMs: number } {
  const settings = {
    issuer: vars.AUTH_ISSUER as string,
    audience: vars.AUTH_AUDIENCE as string,
    jwksUrl: vars.AUTH_JWKS_URL as string | undefined,
    jwks: vars.AUTH_JWKS as string | undefined,
    revocationLookbackMs:
      (vars.AUTH_REVOCATION_LOOKBACK_MS as number | undefined) ?? defaultRevocationLookbackMs,
  };
  if (kindredEnv !== undefined) {
    const issues = checkAuthSettings(settings, kindredEnv);
    if (issues.length > 0) throw new ConfigError(issues);
  }
  return settings;
}
