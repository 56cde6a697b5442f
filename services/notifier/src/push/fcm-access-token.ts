import { abandonOnAbort } from "@kindred/resilience";
import { SignJWT } from "jose";
import { z } from "zod";
import { parseJson, truncate } from "./fcm-response.ts";
import type { FcmServiceAccount } from "./fcm-service-account.ts";

export const fcmScope = "https://www.googleapis.com/auth/firebase.messaging";
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** Google accepts assertions that live at most an hour. */
const assertionLifetimeSeconds = 3600;
/** A cached access token is replaced this long before it expires. */
const refreshMarginMs = 5 * 60_000;

/**
 * Why no access token: `unavailable` (the token endpoint is down, slow or answered nonsense;
 * try again later) or `refused` (it rejected our assertion: a revoked key, a deleted account, a
 * skewed clock; will not fix itself).
 */
export class AccessTokenError extends Error {
  override readonly name = "AccessTokenError";
  readonly kind: "unavailable" | "refused";

  constructor(kind: "unavailable" | "refused", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

export interface AccessTokenSource {
  /** A valid access token, from the cache or one request shared by all concurrent callers. */
  get(signal?: AbortSignal): Promise<string>;
  /** Drops `token` from the cache if it is still the cached one (FCM answered 401 to it). */
  invalidate(token: string): void;
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().positive(),
  token_type: z.string().regex(/^bearer$/i),
});

const tokenErrorSchema = z.object({
  error: z.string().optional(),
  error_description: z.string().optional(),
});

/**
 * OAuth 2.0 for service accounts (RFC 7523): an RS256 JWT assertion signed with the account's
 * key is exchanged at `token_uri` for an access token, which is cached until five minutes
 * before it expires (or half its lifetime, for short-lived tokens).
 */
export function createAccessTokenSource(options: {
  account: FcmServiceAccount;
  timeoutMs: number;
  now: () => Date;
}): AccessTokenSource {
  const { account, timeoutMs, now } = options;
  let cached: { token: string; refreshAtMs: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function assertion(issuedAtMs: number): Promise<string> {
    const iat = Math.floor(issuedAtMs / 1000);
    return new SignJWT({ scope: fcmScope })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: account.privateKeyId })
      .setIssuer(account.clientEmail)
      .setAudience(account.tokenUri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + assertionLifetimeSeconds)
      .sign(account.privateKey);
  }

  async function request(): Promise<string> {
    const startedAtMs = now().getTime();
    const timeout = AbortSignal.timeout(timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await fetch(account.tokenUri, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({
          grant_type: jwtBearerGrant,
          assertion: await assertion(startedAtMs),
        }),
        signal: timeout,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const what = timeout.aborted ? `timed out after ${timeoutMs} ms` : "unreachable";
      throw new AccessTokenError("unavailable", `OAuth token endpoint ${what}`, { cause: err });
    }
    const body = parseJson(text);
    if (status === 200) {
      const parsed = tokenResponseSchema.safeParse(body);
      if (!parsed.success) {
        throw new AccessTokenError(
          "unavailable",
          "OAuth token endpoint answered 200 without a token",
        );
      }
      const lifetimeMs = parsed.data.expires_in * 1000;
      cached = {
        token: parsed.data.access_token,
        refreshAtMs: startedAtMs + lifetimeMs - Math.min(refreshMarginMs, lifetimeMs / 2),
      };
      return parsed.data.access_token;
    }
    if (status === 408 || status === 429 || status >= 500) {
      throw new AccessTokenError("unavailable", `OAuth token endpoint answered ${status}`);
    }
    // Google's own words (`invalid_grant: Invalid JWT Signature.`): no secret in them.
    const error = tokenErrorSchema.safeParse(body).data;
    const detail = [error?.error, error?.error_description].filter(Boolean).join(": ");
    throw new AccessTokenError(
      "refused",
      `OAuth token endpoint refused the assertion (${status}${detail ? ` ${truncate(detail)}` : ""})`,
    );
  }

  return {
    get(signal) {
      if (cached !== undefined && now().getTime() < cached.refreshAtMs) {
        return Promise.resolve(cached.token);
      }
      if (inFlight === undefined) {
        // Not tied to the first caller's signal: the others share it.
        inFlight = request().finally(() => {
          inFlight = undefined;
        });
      }
      return signal === undefined ? inFlight : abandonOnAbort(inFlight, signal);
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
    },
  };
}
