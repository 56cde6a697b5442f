import { setTimeout as sleep } from "node:timers/promises";
import { DependencyUnavailableError } from "@kindred/errors";
import { backoffDelay } from "@kindred/resilience";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

export interface NatsConfig {
  servers: string[];
  token: string | undefined;
  connectTimeoutMs: number;
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface NatsClientOptions {
  /** Shows up in `nats server report connections`. */
  name: string;
  logger: Logger;
  /** Retry delays for the first connection; later outages are the client library's to repair. */
  initialRetryMs?: number;
  maxRetryMs?: number;
}

/**
 * A NATS connection that a service can start while NATS is down: the first connection is
 * retried in the background with backoff, later disconnects are repaired by the client's own
 * reconnect loop (forever). Callers ask for `connection` when they need it and get
 * `DependencyUnavailableError` — `unavailable` at the edge — while there is none.
 */
export class NatsClient implements AsyncDisposable {
  readonly #config: NatsConfig;
  readonly #options: Required<NatsClientOptions>;
  readonly #stop = new AbortController();
  #connection: NatsConnection | undefined;
  #connected = false;
  #lastError: unknown;
  #connecting: Promise<void> | undefined;

  constructor(config: NatsConfig, options: NatsClientOptions) {
    this.#config = config;
    this.#options = { initialRetryMs: 200, maxRetryMs: 5_000, ...options };
  }

  /** Starts connecting in the background; resolves at once. */
  start(): void {
    this.#connecting ??= this.#connectLoop();
  }

  /** Resolves when connected (for tests and start-up ordering); rejects when disposed first. */
  async connected(signal?: AbortSignal): Promise<NatsConnection> {
    this.start();
    while (!this.#connected || this.#connection === undefined) {
      if (this.#stop.signal.aborted) throw new DependencyUnavailableError("nats");
      signal?.throwIfAborted();
      await sleep(25, undefined, { signal });
    }
    return this.#connection;
  }

  get connection(): NatsConnection {
    if (!this.#connected || this.#connection === undefined) {
      throw new DependencyUnavailableError("nats", { cause: this.#lastError });
    }
    return this.#connection;
  }

  jetstream(): JetStreamClient {
    return jetstream(this.connection);
  }

  jetstreamManager(): Promise<JetStreamManager> {
    return jetstreamManager(this.connection);
  }

  /** Throws a descriptive error unless the server answers a round trip in time. */
  async healthCheck(signal?: AbortSignal): Promise<void> {
    const connection = this.#connection;
    if (!this.#connected || connection === undefined) {
      throw new Error(`not connected to ${this.#config.servers.join(",")}`, {
        cause: this.#lastError,
      });
    }
    const timeout = AbortSignal.timeout(this.#config.connectTimeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    await Promise.race([
      connection.flush(),
      new Promise((_, reject) =>
        combined.addEventListener("abort", () => reject(new Error("NATS round trip timed out")), {
          once: true,
        }),
      ),
    ]);
  }

  async #connectLoop(): Promise<void> {
    const { logger } = this.#options;
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        const connection = await connect({
          servers: this.#config.servers,
          name: this.#options.name,
          timeout: this.#config.connectTimeoutMs,
          ...(this.#config.token === undefined ? {} : { token: this.#config.token }),
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1_000,
          pingInterval: 10_000,
        });
        if (this.#stop.signal.aborted) {
          await connection.close();
          return;
        }
        this.#connection = connection;
        this.#connected = true;
        logger.info({ dependency: "nats", server: connection.getServer() }, "connected to NATS");
        void this.#watch(connection);
        return;
      } catch (err) {
        this.#lastError = err;
        const delay = backoffDelay(attempt, this.#options.initialRetryMs, this.#options.maxRetryMs);
        if (attempt < 3 || attempt % 10 === 0) {
          logger.warn(
            { dependency: "nats", attempt, retryInMs: delay, err: String(err) },
            "cannot connect to NATS, retrying",
          );
        }
        await sleep(delay, undefined, { signal: this.#stop.signal }).catch(() => {});
      }
    }
  }

  async #watch(connection: NatsConnection): Promise<void> {
    const { logger } = this.#options;
    for await (const status of connection.status()) {
      if (status.type === "disconnect") {
        this.#connected = false;
        logger.warn({ dependency: "nats", server: status.server }, "disconnected from NATS");
      } else if (status.type === "reconnect") {
        this.#connected = true;
        logger.info({ dependency: "nats", server: status.server }, "reconnected to NATS");
      } else if (status.type === "error") {
        this.#lastError = status.error;
        logger.warn({ dependency: "nats", err: String(status.error) }, "NATS error");
      }
    }
  }

  /** Drains subscriptions and pending publishes, then closes; safe to call twice. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    await this.#connecting;
    const connection = this.#connection;
    this.#connected = false;
    if (connection === undefined || connection.isClosed()) return;
    try {
      await connection.drain();
    } catch {
      await connection.close();
    }
  }
}
