import { createHash } from "node:crypto";
import type { OutgoingHttpHeaders } from "node:http2";
import { DependencyUnavailableError } from "@kindred/errors";
import { createResiliencePolicy, type Logger } from "@kindred/resilience";
import type { Registry } from "prom-client";
import { ApnsConnection, type ApnsReply, ApnsTransportError } from "./apns-connection.ts";
import { ProviderToken } from "./apns-provider-token.ts";
import { pushMetrics } from "./push-metrics.ts";
import { RateCap } from "./rate-cap.ts";
import type { PushMessage, PushProvider, PushResult } from "./types.ts";

export type ApnsLogger = Pick<Logger, "info" | "warn" | "error">;

export interface ApnsProviderOptions {
  /** `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com` for development builds. */
  baseUrl: string;
  /** The Apple developer team id: the provider token's `iss`. */
  teamId: string;
  /** The id of the .p8 key: the provider token's `kid`. */
  keyId: string;
  /** The .p8 key's text: PKCS#8 PEM ("BEGIN PRIVATE KEY"), EC P-256. */
  privateKeyPem: string;
  /** The app's bundle id: the `apns-topic`. */
  bundleId: string;
  /** For one request (the retried one after a token refresh has its own). Default 10 s. */
  timeoutMs?: number;
  /** Requests per second this provider sends at most. Default 500. */
  ratePerSecond?: number;
  /** How long a push waits for its turn under the rate cap before it is told to retry. Default 250 ms. */
  maxRateWaitMs?: number;
  /** Consecutive outages (5xx, network, timeout) that open the circuit, and how long it stays open. */
  breaker?: { consecutiveFailures: number; halfOpenAfterMs: number };
  /** Apple's `thread-id` (notification grouping) for a message; none by default. */
  threadIdOf?: (message: PushMessage) => string | undefined;
  logger: ApnsLogger;
  registry?: Registry;
  /** The clock for the provider token's `iat` and `apns-expiration` (tests). */
  now?: () => Date;
  /** A CA to trust besides the public ones (the fake APNs's certificate, in tests). */
  ca?: string;
}

export interface ApnsProvider extends PushProvider, AsyncDisposable {
  readonly platform: "ios";
  /** Closes the HTTP/2 connection once requests in flight are answered or time out. */
  close(): Promise<void>;
}

const provider = "apns";
/** Apple's limit for a regular remote notification. */
export const maxApnsPayloadBytes = 4096;
const maxCollapseIdBytes = 64;
const defaults = {
  timeoutMs: 10_000,
  ratePerSecond: 500,
  maxRateWaitMs: 250,
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 },
};
/** 400 reasons that say the token, not the request, is wrong. */
const deadTokenReasons = new Set(["BadDeviceToken", "DeviceTokenNotForTopic"]);

/** A result that says APNs itself is down or unreachable: counts towards the breaker. */
class Outage extends Error {
  readonly result: PushResult;

  constructor(result: PushResult & { reason: string }) {
    super(`APNs: ${result.reason}`);
    this.result = result;
  }
}

/** At most the last 6 characters of a device token, for logs. */
export function tokenTail(token: string): string {
  return `…${token.slice(-6)}`;
}

/**
 * An APNs client on Apple's HTTP/2 provider API with token-based authentication: one
 * connection, one provider token renewed every 50 minutes, a rate cap and a circuit breaker.
 * `send` makes one attempt and classifies Apple's answer; the dispatcher decides what to do
 * with it. Neither device tokens (only their last 6 characters), nor the key, nor the provider
 * token are ever logged.
 */
export function createApnsProvider(options: ApnsProviderOptions): ApnsProvider {
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
  if (!(timeoutMs > 0)) throw new RangeError("APNs timeoutMs must be > 0");
  if (options.bundleId === "") throw new TypeError("the APNs bundle id (topic) must not be empty");
  const { logger, bundleId } = options;
  const now = options.now ?? (() => new Date());
  const token = new ProviderToken({
    teamId: options.teamId,
    keyId: options.keyId,
    privateKeyPem: options.privateKeyPem,
    now,
  });
  const connection = new ApnsConnection({
    baseUrl: options.baseUrl,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    logger,
  });
  const rateCap = new RateCap({
    ratePerSecond: options.ratePerSecond ?? defaults.ratePerSecond,
    maxWaitMs: options.maxRateWaitMs ?? defaults.maxRateWaitMs,
  });
  const metrics = pushMetrics(options.registry);
  // One attempt per call: the policy is only the breaker here, retries are the dispatcher's.
  const policy = createResiliencePolicy({
    name: provider,
    isTransient: (err) => err instanceof Outage,
    retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 },
    breaker: options.breaker ?? defaults.breaker,
    logger: {
      debug: () => {},
      info: (obj, msg) => logger.info(obj, msg),
      warn: (obj, msg) => logger.warn(obj, msg),
      error: (obj, msg) => logger.error(obj, msg),
    },
  });

  async function exchange(request: ApnsRequest, signal?: AbortSignal): Promise<PushResult> {
    const stopTimer = metrics.duration.startTimer({ provider });
    const post = (jwt: string) =>
      connection.post(
        request.path,
        { ...request.headers, authorization: `bearer ${jwt}` },
        request.body,
        { timeoutMs, signal },
      );
    try {
      let jwt = await token.current();
      let reply = await post(jwt);
      if (reply.status === 403 && reasonOf(reply) === "ExpiredProviderToken") {
        const renewed = await token.renew(jwt);
        if (renewed !== jwt) {
          jwt = renewed;
          reply = await post(jwt);
        }
      }
      return resultOf(reply);
    } catch (err) {
      if (err instanceof ApnsTransportError) {
        throw new Outage({ outcome: "retry", reason: err.message });
      }
      throw err;
    } finally {
      stopTimer();
    }
  }

  async function deliver(message: PushMessage, signal?: AbortSignal): Promise<PushResult> {
    if (!/^[0-9a-f]+$/i.test(message.token)) {
      return { outcome: "invalid_token", reason: "BadDeviceToken (not a hexadecimal token)" };
    }
    const request = requestOf(message, bundleId, now(), options.threadIdOf);
    if ("outcome" in request) return request;

    const turn = await rateCap.take(signal);
    if (!turn.ok) {
      return {
        outcome: "retry",
        reason: "rate cap",
        retryAfterMs: turn.retryAfterMs,
        notSent: true,
      };
    }
    let sent = false;
    try {
      return await policy.execute(
        () => {
          sent = true;
          return exchange(request, signal);
        },
        { signal },
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof DependencyUnavailableError) {
        if (err.cause instanceof Outage) return err.cause.result;
        if (!sent) {
          rateCap.give();
          return { outcome: "retry", reason: "circuit open", notSent: true };
        }
      }
      logger.error({ provider, err }, "APNs push failed unexpectedly");
      return { outcome: "retry", reason: "unexpected error" };
    }
  }

  function report(message: PushMessage, result: PushResult): void {
    const context = { provider, device: tokenTail(message.token) };
    switch (result.outcome) {
      case "sent":
        return;
      case "invalid_token":
        logger.info({ ...context, reason: result.reason }, "APNs: device token no longer valid");
        return;
      case "retry":
        // The breaker logs when it opens; a line per push while it stays open is noise.
        if (result.reason === "circuit open") return;
        logger.warn(
          { ...context, reason: result.reason, retryAfterMs: result.retryAfterMs },
          "APNs push to retry later",
        );
        return;
      case "failed":
        logger.error(
          { ...context, reason: result.reason },
          "APNs refused a push: check the APNs settings (team, key, bundle id) or the payload",
        );
    }
  }

  async function close(): Promise<void> {
    await connection.close();
  }

  return {
    platform: "ios",
    async send(message, signal) {
      signal?.throwIfAborted();
      const result = await deliver(message, signal);
      metrics.requests.inc({ provider, outcome: result.outcome });
      report(message, result);
      return result;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface ApnsRequest {
  path: string;
  headers: OutgoingHttpHeaders;
  body: string;
}

/** The request for a message, without its `authorization`; `failed` when APNs would refuse it. */
function requestOf(
  message: PushMessage,
  bundleId: string,
  now: Date,
  threadIdOf: ((message: PushMessage) => string | undefined) | undefined,
): ApnsRequest | PushResult {
  const aps: Record<string, unknown> = {
    alert: { title: message.title, body: message.body },
    // A critical alert plays its sound through silent mode only when it says so.
    sound:
      message.interruptionLevel === "critical"
        ? { critical: 1, name: "default", volume: 1 }
        : "default",
  };
  if (message.interruptionLevel !== undefined) {
    aps["interruption-level"] = message.interruptionLevel;
  }
  const threadId = threadIdOf?.(message);
  if (threadId !== undefined) aps["thread-id"] = threadId;
  // Custom keys sit beside `aps`, which they may not replace.
  const custom = Object.entries(message.data).filter(([key]) => key !== "aps");
  const body = JSON.stringify({ aps, ...Object.fromEntries(custom) });
  const size = Buffer.byteLength(body);
  if (size > maxApnsPayloadBytes) {
    return {
      outcome: "failed",
      reason: `PayloadTooLarge (${size} bytes, APNs takes at most ${maxApnsPayloadBytes})`,
    };
  }

  const ttl = Number.isFinite(message.ttlSeconds) ? Math.max(0, Math.floor(message.ttlSeconds)) : 0;
  const headers: OutgoingHttpHeaders = {
    "apns-topic": bundleId,
    "apns-push-type": "alert",
    "apns-priority": message.priority === "high" ? "10" : "5",
    "apns-expiration": String(ttl === 0 ? 0 : Math.floor(now.getTime() / 1000) + ttl),
  };
  if (message.collapseKey !== undefined && message.collapseKey !== "") {
    headers["apns-collapse-id"] = collapseIdOf(message.collapseKey);
  }
  return { path: `/3/device/${message.token}`, headers, body };
}

/**
 * The collapse key, or its SHA-256 (base64url, 43 characters) when longer than Apple's 64
 * bytes or not printable ASCII (a header value): the same key still gives the same id, so a
 * later push still replaces the earlier one.
 */
function collapseIdOf(key: string): string {
  if (key.length <= maxCollapseIdBytes && /^[\x20-\x7e]+$/.test(key)) return key;
  return createHash("sha256").update(key).digest("base64url");
}

/** Apple's `reason` from an error reply's JSON body. */
function reasonOf(reply: ApnsReply): string | undefined {
  if (reply.body === "") return undefined;
  try {
    const parsed = JSON.parse(reply.body) as { reason?: unknown };
    return typeof parsed.reason === "string" ? parsed.reason : undefined;
  } catch {
    return undefined;
  }
}

/** A 410's `timestamp`: when APNs last knew the token as invalid (ms since the epoch). */
function unregisteredSince(reply: ApnsReply): Date | undefined {
  try {
    const parsed = JSON.parse(reply.body) as { timestamp?: unknown };
    return typeof parsed.timestamp === "number" ? new Date(parsed.timestamp) : undefined;
  } catch {
    return undefined;
  }
}

/** Apple's answer as a result; 5xx are thrown as an `Outage`, for the breaker. */
function resultOf(reply: ApnsReply): PushResult {
  const { status } = reply;
  if (status === 200) {
    const id = reply.headers["apns-id"];
    return typeof id === "string" ? { outcome: "sent", providerId: id } : { outcome: "sent" };
  }
  const reason = reasonOf(reply) ?? `HTTP ${status}`;
  if (status === 410) {
    const since = unregisteredSince(reply);
    return since === undefined
      ? { outcome: "invalid_token", reason }
      : { outcome: "invalid_token", reason, invalidSince: since };
  }
  if (status === 400 && deadTokenReasons.has(reason)) return { outcome: "invalid_token", reason };
  if (status === 429 || status >= 500) {
    const wait = retryAfterMs(reply.headers["retry-after"]);
    const result = {
      outcome: "retry" as const,
      reason,
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    };
    // A 429 is Apple throttling us or one device, not an outage.
    if (status >= 500) throw new Outage(result);
    return result;
  }
  return { outcome: "failed", reason };
}

/** A `retry-after` header (seconds or an HTTP date) in milliseconds from now. */
function retryAfterMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
