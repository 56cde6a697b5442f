import { SessionRevocations } from "@kindred/auth";
import { Cache } from "@kindred/cache";
import type {
  DatabaseSettings,
  NatsSettings,
  RedisSettings,
  ServerSettings,
} from "@kindred/config";
import { Database, type MigrationList } from "@kindred/database";
import {
  deleteOldInboxEntries,
  deletePublishedOutboxRows,
  eventNamespace,
  type LiveSubscription,
} from "@kindred/events";
import { JobRunner } from "@kindred/jobs";
import type { Logger } from "@kindred/logging";
import { NatsClient } from "@kindred/nats";
import { RedisClient } from "@kindred/redis";
import {
  type BaseDependencies,
  createBaseDependencies,
  type HealthCheck,
  Lifecycle,
  ServiceHost,
  type ServiceHostOptions,
} from "@kindred/runtime";
import type { ServiceMetrics } from "@kindred/telemetry";
import { EventsKit, type EventsKitOptions } from "./events.ts";
import { migrateOnStart } from "./migrate-on-start.ts";
import { followSessionRevocations, sessionRevoked } from "./session-revocations.ts";

/**
 * How long a consumer remembers an event it handled: longer than any stream keeps messages
 * (7 days), so even a replay of a whole stream is recognized and skipped.
 */
const inboxRetentionMs = 8 * 86_400_000;

/**
 * What each service's composition root uses to build its infrastructure the same way: every
 * client it creates gets its readiness check and its place in the stop order (reverse of
 * creation), and none of them waits for its dependency at start.
 */
export class ServiceKit {
  readonly settings: ServerSettings;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly lifecycle: Lifecycle;
  readonly checks: HealthCheck[] = [];
  readonly #events: EventsKit[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: any service database
  readonly #jobRunners = new Map<Database<any>, JobRunner>();
  /** Resolves when this service's schema is in place (at once when a deploy job migrates). */
  #schemaReady: Promise<void> = Promise.resolve();

  constructor(settings: ServerSettings, overrides: Partial<BaseDependencies> = {}) {
    const base = createBaseDependencies(settings, overrides);
    this.settings = settings;
    this.logger = base.logger;
    this.metrics = base.metrics;
    this.lifecycle = new Lifecycle(base.logger);
    this.lifecycle.use("tracing", base.tracing);
  }

  /**
   * Resolves when this service's schema is in place: after the migrations run at start, or at
   * once when a deploy job migrates. Background work that needs the tables waits for it.
   */
  get schemaReady(): Promise<void> {
    return this.#schemaReady;
  }

  /** This service's own database, migrated at start when the settings say so. */
  postgres<DB>(settings: DatabaseSettings, migrations: MigrationList): Database<DB> {
    const db = this.lifecycle.use(
      "postgres",
      Database.create<DB>(
        {
          url: settings.url,
          ...(settings.password === undefined ? {} : { password: settings.password }),
          poolMax: settings.poolMax,
          connectTimeoutMs: settings.connectTimeoutMs,
          statementTimeoutMs: settings.statementTimeoutMs,
          idleTimeoutMs: settings.idleTimeoutMs,
          applicationName: settings.applicationName,
        },
        { logger: this.logger },
      ),
    );
    this.checks.push({ name: "postgres", check: (signal) => db.healthCheck(signal) });
    if (settings.migrateOnStart) {
      const check = migrateOnStart(
        this.lifecycle,
        settings,
        db as Database<unknown>,
        migrations,
        this.logger,
      );
      this.checks.push(check);
      this.#schemaReady = check.applied;
    }
    return db;
  }

  /**
   * NATS is critical by default; a service whose NATS use is the outbox relay and consumers
   * passes `critical: false`: it keeps serving (writes wait in the outbox) while NATS is down.
   */
  nats(settings: NatsSettings, options: { critical?: boolean } = {}): NatsClient {
    const nats = this.lifecycle.use(
      "nats",
      new NatsClient(settings, {
        name: `kindred-${this.settings.name}`,
        logger: this.logger,
      }),
    );
    this.lifecycle.add("nats-connect", () => nats.start());
    this.checks.push({
      name: "nats",
      check: (signal) => nats.healthCheck(signal),
      ...(options.critical === false ? { critical: false } : {}),
    });
    return nats;
  }

  /**
   * Redis is critical by default; a service that uses it only for a fail-soft cache passes
   * `critical: false`: it stays ready while Redis is down (reads go to the database).
   */
  redis(settings: RedisSettings, options: { critical?: boolean } = {}): RedisClient {
    const redis = this.lifecycle.use(
      "redis",
      RedisClient.create(
        {
          url: settings.url,
          ...(settings.password === undefined ? {} : { password: settings.password }),
          connectTimeoutMs: settings.connectTimeoutMs,
          commandTimeoutMs: settings.commandTimeoutMs,
        },
        { logger: this.logger },
      ),
    );
    this.checks.push({
      name: "redis",
      check: (signal) => redis.healthCheck(signal),
      ...(options.critical === false ? { critical: false } : {}),
    });
    return redis;
  }

  /**
   * The service's background job runner (ADR 10): its jobs start ticking once the schema is in
   * place, and stop (runs aborted and awaited, within the shutdown deadline) before the
   * database closes. A non-critical readiness check shows each job's last outcome.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any service database
  jobs(db: Database<any>): JobRunner {
    // One runner per database: `events()` schedules the backbone's retention jobs on it too.
    const existing = this.#jobRunners.get(db);
    if (existing !== undefined) return existing;
    const runner = new JobRunner({
      db,
      service: this.settings.name,
      logger: this.logger.child({ component: "jobs" }),
      registry: this.metrics.registry,
    });
    const stop = new AbortController();
    let waiting: Promise<void> = Promise.resolve();
    this.lifecycle.add(
      "jobs",
      () => {
        // Jobs need the service's tables: wait for migrations run at start.
        waiting = (async () => {
          await Promise.race([
            this.#schemaReady,
            new Promise((resolve) =>
              stop.signal.addEventListener("abort", resolve, { once: true }),
            ),
          ]);
          if (!stop.signal.aborted) runner.start();
        })();
      },
      async (deadline) => {
        stop.abort();
        await waiting;
        await runner.stop(deadline);
      },
    );
    this.checks.push({
      name: "jobs",
      critical: false,
      check: async () => {
        const status = runner.status();
        const failing = status.filter((job) => job.lastOutcome === "failed");
        if (failing.length > 0) {
          throw new Error(
            failing
              .map((job) => `${job.name} failed at ${job.lastRunAt}: ${job.lastError}`)
              .join("; "),
          );
        }
        return status;
      },
    });
    this.#jobRunners.set(db, runner);
    return runner;
  }

  /**
   * A cache of hot reads in Redis (ADR 10), with this service's metrics; fail-soft, so it adds
   * no readiness check. Caches with the same `prefix` (by default `kindred:<service>`) share
   * their tags: an invalidation through one reaches all.
   */
  cache(redis: RedisClient, options: { name: string; prefix?: string }): Cache {
    return new Cache({
      redis,
      name: options.name,
      prefix: options.prefix ?? `kindred:${this.settings.name}`,
      logger: this.logger.child({ component: "cache", cache: options.name }),
      registry: this.metrics.registry,
    });
  }

  /**
   * The sessions whose access tokens this process refuses, for `createAccessTokenVerifier`:
   * filled from identity's revocation events, recent history first (`lookbackMs`), then live.
   * Its readiness check is not critical: a process keeps serving while NATS is down, and
   * revocations published meanwhile are applied when the feed catches up.
   */
  sessionRevocations(
    nats: NatsClient,
    options: { namespace: string; lookbackMs: number },
  ): SessionRevocations {
    const revocations = new SessionRevocations();
    let feed: LiveSubscription | undefined;
    this.lifecycle.add(
      "session-revocations",
      () => {
        feed = followSessionRevocations({
          nats,
          namespace: eventNamespace(options.namespace),
          lookbackMs: options.lookbackMs,
          revocations,
          logger: this.logger.child({ component: "session-revocations" }),
        });
      },
      async () => {
        await feed?.[Symbol.asyncDispose]();
      },
    );
    this.checks.push({
      name: "session-revocations",
      critical: false,
      check: async () => {
        if (feed?.established !== true) {
          throw new Error(
            `not reading ${sessionRevoked.subject} yet: revoked sessions' tokens are accepted until it is`,
          );
        }
        return { lastSequence: feed.lastSequence, revokedSessions: revocations.size };
      },
    });
    return revocations;
  }

  /** The service's outbox, relay (when it owns streams) and consumers. */
  events(
    options: Omit<
      EventsKitOptions,
      "service" | "logger" | "registry" | "lifecycle" | "schemaReady"
    >,
  ): EventsKit {
    const events = new EventsKit({
      ...options,
      service: this.settings.name,
      logger: this.logger,
      registry: this.metrics.registry,
      lifecycle: this.lifecycle,
      schemaReady: () => this.#schemaReady,
    });
    this.#events.push(events);
    const jobs = this.jobs(options.db);
    jobs.schedule({
      name: "outbox-retention",
      everyMs: 10 * 60_000,
      run: async (signal) => ({
        deleted: await deletePublishedOutboxRows(
          options.db,
          options.settings.outboxRetentionMs,
          signal,
        ),
      }),
    });
    jobs.schedule({
      name: "inbox-retention",
      everyMs: 60 * 60_000,
      run: async (signal) => ({
        deleted: await deleteOldInboxEntries(options.db, inboxRetentionMs, signal),
      }),
    });
    return events;
  }

  /** The service's host, with every check and stop step registered so far. */
  host(
    options: Omit<ServiceHostOptions, "settings" | "logger" | "metrics" | "lifecycle"> = {},
  ): ServiceHost {
    // Consumers are declared after `events()`; their steps are registered last, so they stop
    // first: before the relay, NATS and the database they use.
    for (const events of this.#events.splice(0)) this.checks.push(...events.register());
    return new ServiceHost({
      ...options,
      settings: this.settings,
      logger: this.logger,
      metrics: this.metrics,
      lifecycle: this.lifecycle,
      checks: [...this.checks, ...(options.checks ?? [])],
    });
  }
}
