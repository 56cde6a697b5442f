import { performance } from "node:perf_hooks";
import { DependencyUnavailableError } from "@kindred/errors";
import { abortableDelay, createResiliencePolicy } from "@kindred/resilience";
import type { Registry } from "prom-client";
import { AccessTokenError, createAccessTokenSource } from "./fcm-access-token.ts";
import { classifyFcmResponse, type FcmVerdict } from "./fcm-response.ts";
import { parseServiceAccount, requireSecureUrl } from "./fcm-service-account.ts";
import { pushMetrics } from "./push-metrics.ts";
import { RateCap } from "./rate-cap.ts";
import type { PushMessage, PushProvider, PushResult } from "./types.ts";

/** Pino-like: a pino `Logger` fits. */
export interface FcmLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface FcmProviderOptions {
  /** The service-account key file's contents (its `token_uri` is where tokens come from). */
  serviceAccountJson: string;
  /** Default `https://fcm.googleapis.com`. */
  baseUrl?: string;
  /** For each HTTP request (the token request and the send). Default 10 s. */
  timeoutMs?: number;
  /** Sends per second on average. Default 500. */
  ratePerSecond?: number;
  /** Sends allowed at once after a quiet spell. Default `ratePerSecond`. */
  rateBurst?: number;
  /** Longest a send waits for a slot under the rate cap before it is turned back. Default 1 s. */
  maxRateWaitMs?: number;
  /** Default: open after 5 consecutive outages, probe again after 30 s. */
  breaker?: { consecutiveFailures: number; halfOpenAfterMs: number };
  /** The Android notification channel for a message; none: the app's default channel. */
  channelId?: (message: PushMessage) => string | undefined;
  logger: FcmLogger;
  registry?: Registry;
  now?: () => Date;
}

/** The `message` of an FCM HTTP v1 `messages:send` request, as far as we use it. */
export interface FcmMessage {
  token: string;
  notification: { title: string; body: string };
  data: Record<string, string>;
  android: {
    priority: "HIGH" | "NORMAL";
    ttl: string;
    collapse_key?: string;
    notification?: { channel_id: string };
  };
}

const defaultBaseUrl = "https://fcm.googleapis.com";
/** FCM's longest time to live, 28 days. */
const maxTtlSeconds = 2_419_200;

interface Attempt {
  result: PushResult;
  outage: boolean;
  level: "info" | "warn" | "error" | undefined;
  /** An HTTP request was made (to the token endpoint or to FCM). */
  reachedNetwork: boolean;
  status?: number;
  errorCode?: string;
}

/** An attempt that counts towards the breaker: thrown through it, caught right after. */
class Outage extends Error {
  readonly attempt: Attempt;

  constructor(attempt: Attempt) {
    super(attempt.result.outcome === "sent" ? "sent" : attempt.result.reason);
    this.attempt = attempt;
  }
}

/**
 * Android pushes through FCM HTTP v1, authenticated as a service account. One `send` is one
 * attempt: behind a token-bucket rate cap and a circuit breaker that opens on FCM or token
 * endpoint outages (5xx, unreachable, timeouts; not on 4xx or 429, which prove FCM answers).
 */
export function createFcmProvider(options: FcmProviderOptions): PushProvider {
  const account = parseServiceAccount(options.serviceAccountJson);
  const baseUrl = (options.baseUrl ?? defaultBaseUrl).replace(/\/+$/, "");
  requireSecureUrl(baseUrl, "baseUrl");
  const sendUrl = `${baseUrl}/v1/projects/${encodeURIComponent(account.projectId)}/messages:send`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0)) throw new RangeError("timeoutMs must be > 0");
  const now = options.now ?? (() => new Date());
  const { logger } = options;
  const metrics = pushMetrics(options.registry);
  const tokens = createAccessTokenSource({ account, timeoutMs, now });
  const ratePerSecond = options.ratePerSecond ?? 500;
  const rateCap = new RateCap({
    ratePerSecond,
    burst: options.rateBurst ?? Math.max(1, ratePerSecond),
    maxWaitMs: options.maxRateWaitMs ?? 1000,
    nowMs: () => now().getTime(),
  });
  const policy = createResiliencePolicy({
    name: "fcm",
    // Never retried here: the dispatcher schedules retries. Only outages pass through as errors.
    isTransient: () => false,
    isOutage: (err) => err instanceof Outage,
    retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 },
    breaker: options.breaker ?? { consecutiveFailures: 5, halfOpenAfterMs: 30_000 },
    logger: {
      debug: () => {},
      info: (obj, msg) => logger.info({ provider: "fcm", ...obj }, msg),
      warn: (obj, msg) => logger.warn({ provider: "fcm", ...obj }, msg),
      error: (obj, msg) => logger.error({ provider: "fcm", ...obj }, msg),
    },
  });

  async function post(
    body: string,
    accessToken: string,
    signal: AbortSignal | undefined,
  ): Promise<FcmVerdict> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const res = await fetch(sendUrl, {
        method: "POST",
        headers: {
          authorization: `Bearer ${accessToken}`,
          "content-type": "application/json; charset=utf-8",
          accept: "application/json",
        },
        body,
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
      return classifyFcmResponse({
        status: res.status,
        body: await res.text(),
        retryAfter: res.headers.get("retry-after"),
        now: now(),
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const reason = timeout.aborted
        ? `FCM request timed out after ${timeoutMs} ms`
        : `FCM unreachable${networkCode(err)}`;
      return {
        kind: "result",
        result: { outcome: "retry", reason },
        outage: true,
        level: "warn",
        status: 0,
      };
    }
  }

  async function attempt(message: PushMessage, signal: AbortSignal | undefined): Promise<Attempt> {
    const payload = buildPayload(message, options.channelId);
    if (typeof payload === "string") {
      return failedBeforeSending(payload);
    }
    const slot = rateCap.reserve();
    if ("retryAfterMs" in slot) {
      const result: PushResult = {
        outcome: "retry",
        reason: "FCM rate cap reached",
        retryAfterMs: slot.retryAfterMs,
        notSent: true,
      };
      return { result, outage: false, level: undefined, reachedNetwork: false };
    }
    if (slot.waitMs > 0) await abortableDelay(slot.waitMs, signal);

    const body = JSON.stringify({ message: payload });
    let accessToken: string;
    let verdict: FcmVerdict;
    try {
      accessToken = await tokens.get(signal);
      verdict = await post(body, accessToken, signal);
      if (verdict.kind === "unauthenticated") {
        // Expired or revoked early: one fresh token, one more try.
        tokens.invalidate(accessToken);
        accessToken = await tokens.get(signal);
        verdict = await post(body, accessToken, signal);
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof AccessTokenError)) throw err;
      const outcome = err.kind === "unavailable" ? "retry" : "failed";
      return {
        result: { outcome, reason: err.message },
        outage: err.kind === "unavailable",
        level: err.kind === "unavailable" ? "warn" : "error",
        reachedNetwork: true,
      };
    }
    if (verdict.kind === "unauthenticated") {
      return {
        result: {
          outcome: "failed",
          reason: `FCM refused a fresh access token: ${verdict.reason}`,
        },
        outage: false,
        level: "error",
        reachedNetwork: true,
        status: 401,
      };
    }
    return {
      result: verdict.result,
      outage: verdict.outage,
      level: verdict.result.outcome === "sent" ? undefined : verdict.level,
      reachedNetwork: true,
      status: verdict.status,
      errorCode: verdict.errorCode,
    };
  }

  async function guarded(message: PushMessage, signal: AbortSignal | undefined): Promise<Attempt> {
    try {
      return await policy.execute(
        async () => {
          // Redacted before the breaker sees it: it logs the failure that opened it.
          const outcome = redactToken(await attempt(message, signal), message.token);
          if (outcome.outage) throw new Outage(outcome);
          return outcome;
        },
        { signal },
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof Outage) return err.attempt;
      if (err instanceof DependencyUnavailableError) {
        const result: PushResult = {
          outcome: "retry",
          reason: "FCM circuit open: failing fast",
          notSent: true,
        };
        return { result, outage: false, level: undefined, reachedNetwork: false };
      }
      // A bug of ours, not provider trouble: reported as a result all the same.
      logger.error({ provider: "fcm", err }, "FCM send failed unexpectedly");
      return failedBeforeSending("unexpected error while sending to FCM");
    }
  }

  return {
    platform: "android",
    async send(message, signal) {
      signal?.throwIfAborted();
      const startedAt = performance.now();
      const outcome = await guarded(message, signal);
      const { result } = outcome;
      metrics.requests.inc({ provider: "fcm", outcome: result.outcome });
      if (outcome.reachedNetwork) {
        metrics.duration.observe({ provider: "fcm" }, (performance.now() - startedAt) / 1000);
      }
      if (outcome.level !== undefined && result.outcome !== "sent") {
        logger[outcome.level](
          {
            provider: "fcm",
            device: tokenSuffix(message.token),
            outcome: result.outcome,
            reason: result.reason,
            status: outcome.status,
            errorCode: outcome.errorCode,
          },
          messageFor(result.outcome),
        );
      }
      return result;
    },
  };
}

/** The FCM v1 message for a push, or why it cannot be sent. */
export function buildPayload(
  message: PushMessage,
  channelId?: (message: PushMessage) => string | undefined,
): FcmMessage | string {
  for (const [key, value] of Object.entries(message.data)) {
    if (typeof value !== "string") return `data value ${key} is not a string`;
  }
  const ttl = Math.min(maxTtlSeconds, Math.max(0, Math.floor(message.ttlSeconds)));
  if (Number.isNaN(ttl)) return "ttlSeconds is not a number";
  const channel = channelId?.(message);
  return {
    token: message.token,
    notification: { title: message.title, body: message.body },
    data: message.data,
    android: {
      priority: message.priority === "high" ? "HIGH" : "NORMAL",
      ttl: `${ttl}s`,
      ...(message.collapseKey === undefined ? {} : { collapse_key: message.collapseKey }),
      ...(channel === undefined ? {} : { notification: { channel_id: channel } }),
    },
  };
}

function failedBeforeSending(reason: string): Attempt {
  return {
    result: { outcome: "failed", reason },
    outage: false,
    level: "error",
    reachedNetwork: false,
  };
}

/** At most the last six characters of a device token, for logs. */
export function tokenSuffix(token: string): string {
  return token.length >= 24 ? `…${token.slice(-6)}` : "…";
}

/** Reasons go to logs and the delivery log: FCM's message must not carry the device token. */
function redactToken(attempt: Attempt, token: string): Attempt {
  const { result } = attempt;
  if (result.outcome === "sent" || token === "" || !result.reason.includes(token)) return attempt;
  return {
    ...attempt,
    result: { ...result, reason: result.reason.replaceAll(token, tokenSuffix(token)) },
  };
}

function networkCode(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  const code =
    typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return typeof code === "string" ? ` (${code})` : "";
}

function messageFor(outcome: PushResult["outcome"]): string {
  switch (outcome) {
    case "invalid_token":
      return "FCM says the device token is dead";
    case "retry":
      return "FCM send will be retried";
    default:
      return "FCM send failed and will not be retried";
  }
}
