import {
  abandonOnAbort,
  HealthCheckError,
  type Logger,
  type ResiliencePolicy,
} from "@kindred/resilience";
import { Kysely, PostgresDialect, sql, type Transaction } from "kysely";
import pg from "pg";
import type { DatabaseConfig } from "./config.ts";
import { withPassword } from "./connection-string.ts";
import { createPostgresPolicy } from "./postgres-policy.ts";
import { type CommitCallback, onCommit, TransactionScope } from "./transaction-scope.ts";

export type IsolationLevel = "read committed" | "repeatable read" | "serializable";

export interface TransactionOptions {
  /**
   * The whole function may run again after a transient failure (dropped connection,
   * serialization failure, deadlock). Only when it has no side effects outside the database:
   * put those in `onCommit`.
   */
  idempotent?: boolean;
  isolation?: IsolationLevel;
  /** Stops retrying (not a running attempt), e.g. on shutdown. */
  signal?: AbortSignal;
}

export interface DatabaseDeps {
  logger: Logger;
  /** Defaults to `createPostgresPolicy({ logger })`; pass one to tune retries and the breaker. */
  policy?: ResiliencePolicy;
}

/**
 * A service's PostgreSQL database: a pg pool, Kysely over it, and transactions that retry
 * transient failures behind a circuit breaker. Every write goes through `transaction`, so
 * `onCommit` and the outbox always have a transaction to hang on.
 */
export class Database<DB> implements AsyncDisposable {
  /** For single reads (and migrations); not retried, not behind the breaker. */
  readonly kysely: Kysely<DB>;
  readonly #pool: pg.Pool;
  readonly #policy: ResiliencePolicy;
  readonly #logger: Logger;
  readonly #healthCheckTimeoutMs: number;
  #disposed: Promise<void> | undefined;

  private constructor(pool: pg.Pool, policy: ResiliencePolicy, logger: Logger, timeoutMs: number) {
    this.#pool = pool;
    this.#policy = policy;
    this.#logger = logger;
    this.#healthCheckTimeoutMs = timeoutMs;
    this.kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  }

  /** Connects lazily: creating a Database never fails because the server is down. */
  static create<DB>(config: DatabaseConfig, { logger, policy }: DatabaseDeps): Database<DB> {
    const pool = new pg.Pool({
      connectionString: withPassword(config.url, config.password),
      max: config.poolMax,
      connectionTimeoutMillis: config.connectTimeoutMs,
      idleTimeoutMillis: config.idleTimeoutMs,
      statement_timeout: config.statementTimeoutMs,
      application_name: config.applicationName,
      keepAlive: true,
    });
    // Without these listeners a connection that dies while idle, or while checked out between
    // two queries, emits an unhandled `error` and crashes the process.
    pool.on("error", (err) => logger.warn({ err }, "idle postgres connection failed"));
    pool.on("connect", (client) => {
      client.on("error", (err) => logger.debug({ err }, "postgres connection failed"));
    });
    return new Database<DB>(
      pool,
      policy ?? createPostgresPolicy({ logger }),
      logger,
      config.connectTimeoutMs,
    );
  }

  /**
   * Runs `fn` in one transaction and returns its result after COMMIT and after the `onCommit`
   * callbacks ran. Errors from `fn` roll back and propagate unchanged; transient failures are
   * retried (whole function) when `idempotent`, and end as `DependencyUnavailableError`.
   */
  async transaction<T>(
    fn: (trx: Transaction<DB>) => Promise<T>,
    { idempotent = false, isolation, signal }: TransactionOptions = {},
  ): Promise<T> {
    const { result, scope } = await this.#policy.execute(
      async () => {
        const scope = new TransactionScope();
        let builder = this.kysely.transaction();
        if (isolation !== undefined) builder = builder.setIsolationLevel(isolation);
        try {
          const result = await builder.execute((trx) => fn(trx.withPlugin(scope)));
          return { result, scope };
        } finally {
          scope.end();
        }
      },
      { idempotent, signal },
    );
    await scope.runCommitCallbacks(this.#logger);
    return result;
  }

  /** See the `onCommit` function; here for code that holds the Database anyway. */
  onCommit(trx: Transaction<DB>, fn: CommitCallback): void {
    onCommit(trx, fn);
  }

  /**
   * For readiness: `select 1` within the connect timeout, through the breaker (so repeated
   * probes open it, and a probe after `halfOpenAfterMs` closes it again). Rejects with a
   * `HealthCheckError` that names the root cause.
   */
  async healthCheck(signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.#healthCheckTimeoutMs);
    const deadline = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      await this.#policy.execute(async () => {
        try {
          await abandonOnAbort(sql`select 1`.execute(this.kysely), deadline);
        } catch (err) {
          if (!timeout.aborted) throw err;
          throw Object.assign(
            new Error(`postgres did not answer within ${this.#healthCheckTimeoutMs} ms`),
            { code: "ETIMEDOUT", cause: err },
          );
        }
      });
    } catch (err) {
      throw new HealthCheckError("postgres", err);
    }
  }

  /** Ends the pool once in-flight queries are done; safe to call more than once. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#disposed ??= (async () => {
      await this.kysely.destroy();
      if (!this.#pool.ending) await this.#pool.end();
    })();
    return this.#disposed;
  }
}
