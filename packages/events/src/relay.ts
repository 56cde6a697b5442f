import { setTimeout as sleep } from "node:timers/promises";
import type { Database } from "@kindred/database";
import type { NatsClient } from "@kindred/nats";
import { backoffDelay, type Logger } from "@kindred/resilience";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { sql } from "kysely";
import pg from "pg";
import type { Registry } from "prom-client";
import type { EventHeaders } from "./metadata.ts";
import { outboxChannel } from "./migrations.ts";
import { createRelayMetrics, type RelayMetrics } from "./relay-metrics.ts";
import { deletePublishedOutboxRows } from "./retention.ts";

/** Where the relay sends events; JetStream in production, anything in unit tests. */
export interface EventPublisher {
  publish(
    subject: string,
    payload: Uint8Array,
    options: { msgID: string; headers: EventHeaders; timeoutMs: number },
  ): Promise<void>;
}

export function jetStreamPublisher(nats: NatsClient): EventPublisher {
  return {
    async publish(subject, payload, options) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(options.headers)) h.set(k, v);
      await nats.jetstream().publish(subject, payload, {
        msgID: options.msgID,
        headers: h,
        timeout: options.timeoutMs,
      });
    },
  };
}

export interface RelayOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
  db: Database<any>;
  /** For the relay's own session: the lease lock and LISTEN need one connection kept open. */
  connection: { url: string; password?: string | undefined; connectTimeoutMs?: number };
  publisher: EventPublisher;
  logger: Logger;
  registry?: Registry;
  /** Rows read and published per round. */
  batchSize?: number;
  /** How often to look for rows without a NOTIFY, and to try for the lease. */
  pollIntervalMs?: number;
  publishTimeoutMs?: number;
  /** Sent rows are kept this long (for `republish`), then deleted. */
  retentionMs?: number;
  cleanupIntervalMs?: number;
  /** One lease per outbox: replicas of a service share it. */
  leaseName?: string;
}

export interface RelayStatus {
  role: "leader" | "standby" | "stopped";
  lastPublishError: string | undefined;
  lastPublishedAt: string | undefined;
}

interface Row {
  id: string;
  republish_count: number;
  aggregate_key: string;
  subject: string;
  headers: EventHeaders;
  payload: Uint8Array;
  created_at: Date;
}

const tracer = trace.getTracer("@kindred/events");

/**
 * Publishes committed outbox rows to JetStream, in commit order per aggregate.
 *
 * - One replica at a time publishes: the leader holds a PostgreSQL session advisory lock (the
 *   lease); the others wait on standby and take over within a poll interval when it dies (its
 *   session ends, so the lock is released at once).
 * - It reads *unsent rows* in `seq` order, never "rows after a cursor": a row that commits late
 *   with a lower `seq` is simply unsent until the next round.
 * - A round publishes the rows of different aggregates concurrently (pipelined) and the rows of
 *   one aggregate one after another; when one fails, the rest of that aggregate waits for the
 *   next round, so an aggregate's events never overtake each other.
 * - A crash between publish and `sent_at` means a re-publish: the event id is the
 *   `Nats-Msg-Id`, so JetStream drops it inside the stream's duplicate window, and consumers are
 *   idempotent beyond it.
 */
export class OutboxRelay implements AsyncDisposable {
  readonly #options: Required<Omit<RelayOptions, "registry">>;
  readonly #metrics: RelayMetrics;
  readonly #stop = new AbortController();
  #client: pg.Client | undefined;
  #leader = false;
  #wake: (() => void) | undefined;
  #notified = false;
  #loop: Promise<void> | undefined;
  #lastPublishError: string | undefined;
  #lastPublishedAt: Date | undefined;
  #lastCleanup = 0;

  constructor(options: RelayOptions) {
    this.#options = {
      batchSize: 500,
      pollIntervalMs: 1_000,
      publishTimeoutMs: 5_000,
      retentionMs: 7 * 24 * 3_600_000,
      cleanupIntervalMs: 60_000,
      leaseName: "kindred_event_outbox_relay",
      ...options,
    };
    this.#metrics = createRelayMetrics(options.registry, () => this.backlog());
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  status(): RelayStatus {
    return {
      role: this.#stop.signal.aborted ? "stopped" : this.#leader ? "leader" : "standby",
      lastPublishError: this.#lastPublishError,
      lastPublishedAt: this.#lastPublishedAt?.toISOString(),
    };
  }

  /** Unsent rows and the age of the oldest. */
  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const { rows } = await sql<{ count: string; oldest: Date | null }>`
      select count(*) as count, min(created_at) as oldest
      from event_outbox where sent_at is null`.execute(this.#options.db.kysely);
    const row = rows[0];
    const oldest = row?.oldest ?? null;
    return {
      count: Number(row?.count ?? 0),
      oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (Date.now() - oldest.getTime()) / 1000),
    };
  }

  /** Resolves when every row committed so far has been published (tests' idle hook). */
  async flush(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.#wake?.();
      const { count } = await this.backlog();
      if (count === 0) return;
      if (Date.now() > deadline) throw new Error(`outbox still has ${count} unsent events`);
      await sleep(20);
    }
  }

  async #run(): Promise<void> {
    const { logger } = this.#options;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        if (!this.#leader) await this.#tryLead();
        if (!this.#leader) {
          await this.#idle();
          continue;
        }
        const round = await this.#publishRound();
        await this.#cleanup();
        if (round.failed > 0) {
          failures++;
          await this.#pause(backoffDelay(failures, 100, 10_000));
        } else {
          failures = 0;
          if (round.published < this.#options.batchSize) await this.#idle();
        }
      } catch (err) {
        failures++;
        logger.warn({ err, failures }, "outbox relay round failed");
        // The lease is kept unless its own session broke (its `error` handler drops it then).
        await this.#pause(backoffDelay(failures, 100, 10_000));
      }
    }
  }

  /** Connects the relay's session if needed and tries to take the lease. */
  async #tryLead(): Promise<void> {
    if (this.#client === undefined) {
      const { url, password, connectTimeoutMs } = this.#options.connection;
      const client = new pg.Client({
        connectionString: url,
        ...(password === undefined ? {} : { password }),
        connectionTimeoutMillis: connectTimeoutMs ?? 5_000,
        application_name: "kindred-outbox-relay",
      });
      client.on("error", (err) => {
        this.#options.logger.warn({ err }, "outbox relay session lost");
        void this.#dropSession();
      });
      client.on("notification", () => {
        this.#notified = true;
        this.#wake?.();
      });
      this.#client = client;
      try {
        await client.connect();
        await client.query(`LISTEN ${outboxChannel}`);
      } catch (err) {
        await this.#dropSession();
        throw err;
      }
    }
    const { rows } = await this.#client.query<{ ok: boolean }>(
      "select pg_try_advisory_lock(hashtextextended($1, 0)) as ok",
      [this.#options.leaseName],
    );
    if (rows[0]?.ok === true) {
      this.#leader = true;
      this.#metrics.leader.set(1);
      this.#options.logger.info({ lease: this.#options.leaseName }, "outbox relay is the leader");
    }
  }

  async #dropSession(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (this.#leader) {
      this.#leader = false;
      this.#metrics.leader.set(0);
      if (this.#stop.signal.aborted)
        this.#options.logger.info({}, "outbox relay released the lease");
      else this.#options.logger.warn({}, "outbox relay lost the lease");
    }
    if (client !== undefined) await client.end().catch(() => {});
  }

  async #publishRound(): Promise<{ published: number; failed: number }> {
    const { db, batchSize } = this.#options;
    this.#notified = false;
    const { rows } = await sql<Row>`
      select id, republish_count, aggregate_key, subject, headers, payload, created_at
      from event_outbox where sent_at is null order by seq limit ${batchSize}`.execute(db.kysely);
    if (rows.length === 0) return { published: 0, failed: 0 };

    const chains = new Map<string, Row[]>();
    for (const row of rows) {
      const chain = chains.get(row.aggregate_key);
      if (chain === undefined) chains.set(row.aggregate_key, [row]);
      else chain.push(row);
    }
    const sent: string[] = [];
    let failed = 0;
    await Promise.all(
      [...chains.values()].map(async (chain) => {
        for (const row of chain) {
          try {
            await this.#publish(row);
            sent.push(row.id);
          } catch (err) {
            failed++;
            this.#lastPublishError = err instanceof Error ? err.message : String(err);
            this.#metrics.failures.inc();
            break;
          }
        }
      }),
    );
    if (sent.length > 0) {
      await sql`update event_outbox set sent_at = now() where id = any(${sent}::uuid[])`.execute(
        db.kysely,
      );
      this.#lastPublishedAt = new Date();
      this.#metrics.published.inc(sent.length);
    }
    if (failed > 0) {
      this.#options.logger.warn(
        { failed, published: sent.length, err: this.#lastPublishError },
        "outbox relay could not publish some events; retrying",
      );
    } else {
      this.#lastPublishError = undefined;
    }
    return { published: sent.length, failed };
  }

  async #publish(row: Row): Promise<void> {
    const parent = propagation.extract(context.active(), row.headers);
    const span = tracer.startSpan(
      `publish ${row.subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": row.subject,
          "messaging.message.id": row.id,
        },
      },
      parent,
    );
    // The consumer continues from this publish span, itself a child of the original request.
    const headers = { ...row.headers };
    propagation.inject(trace.setSpan(parent, span), headers);
    const started = performance.now();
    try {
      // A deliberate republish must get past JetStream's de-duplication; consumers still dedupe
      // by the event id (`Kindred-Event-Id`) in their inbox.
      const msgID = row.republish_count > 0 ? `${row.id}:${row.republish_count}` : row.id;
      headers["Nats-Msg-Id"] = msgID;
      await this.#options.publisher.publish(row.subject, row.payload, {
        msgID,
        headers,
        timeoutMs: this.#options.publishTimeoutMs,
      });
      this.#metrics.publishDuration.observe((performance.now() - started) / 1000);
      this.#metrics.commitToAck.observe(Math.max(0, Date.now() - row.created_at.getTime()) / 1000);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      throw err;
    } finally {
      span.end();
    }
  }

  async #cleanup(): Promise<void> {
    const { db, retentionMs, cleanupIntervalMs } = this.#options;
    if (Date.now() - this.#lastCleanup < cleanupIntervalMs) return;
    this.#lastCleanup = Date.now();
    const deleted = await deletePublishedOutboxRows(db, retentionMs);
    if (deleted > 0)
      this.#options.logger.info({ deleted }, "deleted published outbox rows past retention");
  }

  /** Waits for a NOTIFY (or one that came during the last round), the poll interval, or stop. */
  async #idle(): Promise<void> {
    if (this.#notified || this.#stop.signal.aborted) {
      this.#notified = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#stop.signal.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#options.pollIntervalMs);
      this.#stop.signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
    this.#notified = false;
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => {});
  }

  /** Finishes the round in progress, gives up the lease and closes the session. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
    await this.#dropSession();
    this.#metrics.leader.set(0);
  }
}

/**
 * `republish --since`: marks rows created since `since` unsent again, so the relay publishes
 * them anew (in their original order). For repairing a broker that lost acknowledged messages;
 * safe because consumers are idempotent. Returns how many rows will be re-sent.
 */
// biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
export async function republishSince(db: Database<any>, since: Date): Promise<number> {
  const result = await sql`
    update event_outbox set sent_at = null, republish_count = republish_count + 1
    where sent_at is not null and created_at >= ${since}`.execute(db.kysely);
  return Number(result.numAffectedRows ?? 0);
}
