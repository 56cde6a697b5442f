import {
  abandonOnAbort,
  type ExecuteOptions,
  HealthCheckError,
  type Logger,
  type ResiliencePolicy,
} from "@kindred/resilience";
import { Redis, type RedisOptions } from "ioredis";
import type { RedisConfig } from "./config.ts";
import { ConnectionLog } from "./connection-log.ts";
import { createRedisPolicy } from "./redis-policy.ts";
import { RedisNotConnectedError } from "./transient-errors.ts";

export interface RedisClientDeps {
  logger: Logger;
  /** Defaults to `createRedisPolicy({ logger })`; pass one to tune retries and the breaker. */
  policy?: ResiliencePolicy;
}

/** Reconnect forever: 100 ms doubling up to 5 s, with jitter so pods do not reconnect in step. */
export function reconnectDelayMs(attempt: number): number {
  const ceiling = Math.min(100 * 2 ** Math.min(attempt - 1, 16), 5_000);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * A Redis connection that never takes the process down: created while Redis is down it keeps
 * reconnecting in the background, commands fail fast while disconnected (no offline queue),
 * and calls through `execute` retry and trip a breaker like the database's.
 */
export class RedisClient implements AsyncDisposable {
  /** Raw access, e.g. for subscriptions; not retried, not behind the breaker. */
  readonly redis: Redis;
  readonly #policy: ResiliencePolicy;
  readonly #log: ConnectionLog;
  readonly #timeoutMs: number;
  #disposed: Promise<void> | undefined;

  private constructor(redis: Redis, policy: ResiliencePolicy, log: ConnectionLog, ms: number) {
    this.redis = redis;
    this.#policy = policy;
    this.#log = log;
    this.#timeoutMs = ms;
  }

  /** Starts connecting and returns at once; never throws because Redis is down. */
  static create(config: RedisConfig, { logger, policy }: RedisClientDeps): RedisClient {
    const options: RedisOptions = {
      lazyConnect: false,
      // Fail fast while disconnected, instead of queueing commands for an unknown time.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Whether a command may run twice is the caller's call (`idempotent`), not the driver's.
      autoResendUnfulfilledCommands: false,
      connectTimeout: config.connectTimeoutMs,
      commandTimeout: config.commandTimeoutMs,
      retryStrategy: reconnectDelayMs,
    };
    if (config.keyPrefix !== undefined) options.keyPrefix = config.keyPrefix;
    const redis = new Redis(withPassword(config.url, config.password), options);
    const log = new ConnectionLog("redis", logger);
    // ioredis emits `error` on every failed attempt; unheard, it would crash the process.
    redis.on("error", (err) => log.failed(err));
    redis.on("ready", () => log.ready());
    redis.on("close", () => log.closed());
    return new RedisClient(
      redis,
      policy ?? createRedisPolicy({ logger }),
      log,
      Math.max(config.connectTimeoutMs, config.commandTimeoutMs),
    );
  }

  /**
   * Runs `fn` through the policy: transient failures end as `DependencyUnavailableError`,
   * retried first when `idempotent`. Fails fast, without calling `fn`, while disconnected.
   */
  execute<T>(
    fn: (redis: Redis, signal: AbortSignal) => Promise<T>,
    opts?: ExecuteOptions,
  ): Promise<T> {
    return this.#policy.execute((signal) => {
      this.#assertConnected();
      return fn(this.redis, signal);
    }, opts);
  }

  /**
   * For readiness: PING through the breaker within the command timeout. Rejects with a
   * `HealthCheckError` that names the last connection error while disconnected.
   */
  async healthCheck(signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const deadline = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      await this.execute(() => abandonOnAbort(this.redis.ping(), deadline));
    } catch (err) {
      throw new HealthCheckError("redis", err);
    }
  }

  /** Resolves once connected (at once if it is); for start-up and tests, not for requests. */
  async whenReady(signal?: AbortSignal): Promise<void> {
    if (this.redis.status === "ready") return;
    const ready = new Promise<void>((resolve) => this.redis.once("ready", resolve));
    await (signal === undefined ? ready : abandonOnAbort(ready, signal));
  }

  /** QUIT (pending replies arrive), or a hard disconnect when not connected; idempotent. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#disposed ??= (async () => {
      this.#log.stopping();
      if (this.redis.status === "ready") {
        try {
          await this.redis.quit();
          return;
        } catch {
          // Not answering: fall through and cut the connection.
        }
      }
      this.redis.disconnect();
    })();
    return this.#disposed;
  }

  #assertConnected(): void {
    const { status } = this.redis;
    if (status !== "ready") throw new RedisNotConnectedError(status, this.#log.lastError);
  }
}

/**
 * Puts a secret password into the URL: ioredis lets the URL win over a `password` option, and
 * decodes the URL's password with `decodeURIComponent`, hence the encoding.
 */
export function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
