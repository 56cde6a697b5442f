import { z } from "zod";
import type { PushResult } from "./types.ts";

/** How an FCM answer is handled besides its result. */
export type FcmVerdict =
  /** 401 without THIRD_PARTY_AUTH_ERROR: our access token expired or was revoked. */
  | { kind: "unauthenticated"; reason: string }
  | {
      kind: "result";
      result: PushResult;
      /** FCM itself is failing (5xx, unreachable, timeout): counts towards the breaker. */
      outage: boolean;
      level: "info" | "warn" | "error";
      status: number;
      errorCode?: string;
    };

const fcmErrorType = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const badRequestType = "type.googleapis.com/google.rpc.BadRequest";

const errorBodySchema = z.object({
  error: z.object({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    details: z.array(z.looseObject({ "@type": z.string().optional() })).optional(),
  }),
});

const successBodySchema = z.object({ name: z.string() });

/**
 * Maps an answer from FCM's `messages:send` onto a push result. Devices are removed only when
 * FCM says so of the token itself (`UNREGISTERED`, `SENDER_ID_MISMATCH`, an `INVALID_ARGUMENT`
 * about the registration token): a bare 404 or 400 more likely means our project id, URL or
 * payload is wrong, and guessing "invalid token" there would delete every device we have.
 */
export function classifyFcmResponse(answer: {
  status: number;
  body: string;
  retryAfter: string | null;
  now: Date;
}): FcmVerdict {
  const { status } = answer;
  const body = parseJson(answer.body);
  if (status >= 200 && status < 300) {
    const name = successBodySchema.safeParse(body).data?.name;
    return {
      kind: "result",
      result: name === undefined ? { outcome: "sent" } : { outcome: "sent", providerId: name },
      outage: false,
      level: "info",
      status,
    };
  }

  const error = errorBodySchema.safeParse(body).data?.error;
  const details = error?.details ?? [];
  const errorCode = details
    .filter((d) => d["@type"] === fcmErrorType)
    .map((d) => d.errorCode)
    .find((code): code is string => typeof code === "string");
  const label = `FCM ${status}${errorCode ? ` ${errorCode}` : error?.status ? ` ${error.status}` : ""}`;
  const withMessage = error?.message ? `${label}: ${truncate(error.message)}` : label;
  const result = (
    result: PushResult,
    level: "info" | "warn" | "error",
    outage = false,
  ): FcmVerdict => ({ kind: "result", result, outage, level, status, errorCode });
  const retry = (outage: boolean): FcmVerdict => {
    const retryAfterMs = parseRetryAfter(answer.retryAfter, answer.now);
    return result(
      retryAfterMs === undefined
        ? { outcome: "retry", reason: withMessage }
        : { outcome: "retry", reason: withMessage, retryAfterMs },
      "warn",
      outage,
    );
  };

  if (errorCode === "UNREGISTERED" || errorCode === "SENDER_ID_MISMATCH") {
    return result({ outcome: "invalid_token", reason: label }, "info");
  }
  if (errorCode === "THIRD_PARTY_AUTH_ERROR") {
    return result({ outcome: "failed", reason: withMessage }, "error");
  }
  if (errorCode === "INVALID_ARGUMENT" || status === 400) {
    return concernsRegistrationToken(error?.message, details)
      ? result({ outcome: "invalid_token", reason: withMessage }, "info")
      : result({ outcome: "failed", reason: withMessage }, "error");
  }
  if (status === 401) return { kind: "unauthenticated", reason: withMessage };
  if (errorCode === "QUOTA_EXCEEDED" || status === 429 || status === 408) return retry(false);
  if (errorCode === "UNAVAILABLE" || errorCode === "INTERNAL" || status >= 500) return retry(true);
  // 403 PERMISSION_DENIED (the account may not send for this project), a bare 404 (wrong
  // project or URL), any other 4xx: our configuration, not the device.
  return result({ outcome: "failed", reason: withMessage }, "error");
}

/**
 * Whether a 400 is about the registration token: FCM says "The registration token is not a
 * valid FCM registration token", or names `message.token` in a field violation. Anything else
 * (a bad ttl, a reserved data key, a malformed payload) is our bug and fails the push instead.
 */
function concernsRegistrationToken(
  message: string | undefined,
  details: ReadonlyArray<Record<string, unknown>>,
): boolean {
  if (message !== undefined && /registration token/i.test(message)) return true;
  return details.some(
    (d) =>
      d["@type"] === badRequestType &&
      Array.isArray(d.fieldViolations) &&
      d.fieldViolations.some(
        (v: unknown) =>
          typeof v === "object" &&
          v !== null &&
          (v as { field?: unknown }).field === "message.token",
      ),
  );
}

/** `Retry-After` in delta-seconds or as an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Shortens a provider's message for a reason or a log line. */
export function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
