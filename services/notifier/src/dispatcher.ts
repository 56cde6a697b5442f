import type { Database } from "@kindred/database";
import { BatchLoop } from "@kindred/jobs";
import type { Logger } from "@kindred/logging";
import { backoffDelay } from "@kindred/resilience";
import { sql } from "kysely";
import { Gauge, type Registry } from "prom-client";
import type { KindName, NotifierDatabase, PlatformName, SubjectKind } from "./db/schema.ts";
import type { DeliveryOutcome, NotifierMetrics } from "./metrics.ts";
import { type PayloadSettings, pushMessage } from "./payloads.ts";
import type { PushProvider, PushResult } from "./push/types.ts";
import { dropQueued, dropReasons, settleNotifications } from "./queue.ts";
import { quietUntil } from "./quiet-hours.ts";

export interface DispatcherSettings {
  /** How often to look for due deliveries that no wake-up announced (retries, other replicas). */
  pollMs: number;
  /** Attempts of one delivery before it is marked failed. */
  maxAttempts: number;
  /** Deliveries leased (and sent concurrently) per batch. */
  batchSize: number;
  /** How long a send may take before another replica may take the delivery over. */
  leaseMs: number;
  /** Backoff after a retryable answer: `base · 2^(attempt-1)` with jitter, capped. */
  retryBaseMs: number;
  retryMaxMs: number;
  payload: PayloadSettings;
}

export interface DispatcherOptions {
  db: Database<NotifierDatabase>;
  providers: Partial<Record<PlatformName, PushProvider>>;
  metrics: NotifierMetrics;
  logger: Logger;
  registry: Registry;
  settings: DispatcherSettings;
  /** The time quiet hours are judged by. */
  now?: () => Date;
}

/** A leased delivery with what sending it needs. */
interface Leased {
  id: string;
  notification_id: string;
  device_id: string;
  attempts: number;
  user_id: string;
  kind: KindName;
  subject_kind: SubjectKind;
  subject_id: string;
  post_id: string | null;
  circle_id: string | null;
  platform: PlatformName | null;
  token: string | null;
  locale: string | null;
  quiet_enabled: boolean | null;
  start_minute: number | null;
  end_minute: number | null;
  time_zone: string | null;
}

/**
 * Sends queued deliveries through the push providers (ADR 17). Like moderation's scanner it
 * leases rows (`lease_until`) in one `UPDATE … RETURNING` with `for update skip locked`, calls the
 * provider outside any transaction, and writes each result in a short transaction of its own:
 * no row lock is ever held across a network call, and a replica that dies mid-send leaves its
 * lease to expire for another to take over. SOS deliveries are leased first.
 */
export class Dispatcher implements AsyncDisposable {
  readonly #o: DispatcherOptions & { now: () => Date };
  readonly #loop: BatchLoop;

  constructor(options: DispatcherOptions) {
    this.#o = { now: () => new Date(), ...options };
    this.#loop = new BatchLoop({
      batch: () => this.#batch(),
      pollMs: options.settings.pollMs,
      logger: options.logger,
      failureMessage: "push dispatcher batch failed",
    });
    const db = options.db.kysely;
    new Gauge({
      name: "kindred_notifier_queue_due",
      help: "Queued deliveries whose time has come (a growing number: pushes are late).",
      registers: [options.registry],
      async collect() {
        try {
          const row = await db
            .selectFrom("delivery")
            .select((eb) => eb.fn.countAll<string>().as("n"))
            .where("status", "=", "queued")
            .where("next_attempt_at", "<=", sql<Date>`now()`)
            .executeTakeFirstOrThrow();
          this.set(Number(row.n));
        } catch {
          // the database is down: readiness says so; the gauge keeps its last value
        }
      },
    });
  }

  start(): void {
    this.#loop.start();
  }

  /** Runs soon: work was queued (called after its commit). */
  wake(): void {
    this.#loop.wake();
  }

  /** Runs until nothing is due (tests). Returns how many items were handled. */
  drain(): Promise<number> {
    return this.#loop.drain();
  }

  /** One batch; concurrent callers share the batch in flight. */
  runOnce(): Promise<number> {
    return this.#loop.runOnce();
  }

  /** The queue for readiness: due deliveries and how late the oldest is. */
  async backlog(): Promise<{ due: number; oldestDueSeconds: number }> {
    const { rows } = await sql<{ due: string; oldest: number | null }>`
      select count(*) as due, extract(epoch from now() - min(next_attempt_at))::float8 as oldest
      from delivery where status = 'queued' and next_attempt_at <= now()`.execute(
      this.#o.db.kysely,
    );
    const row = rows[0];
    return { due: Number(row?.due ?? 0), oldestDueSeconds: Math.round(row?.oldest ?? 0) };
  }

  async #batch(): Promise<number> {
    if (this.#loop.signal.aborted) return 0;
    const { batchSize, leaseMs } = this.#o.settings;
    const leased = await sql<Leased>`
      with leased as (
        update delivery set lease_until = now() + ${`${leaseMs} milliseconds`}::interval,
          attempts = attempts + 1, updated_at = now()
        where id in (
          select d.id from delivery d join notification n on n.id = d.notification_id
          where d.status = 'queued' and d.next_attempt_at <= now()
            and (d.lease_until is null or d.lease_until < now())
          order by (n.kind = 'sos') desc, d.next_attempt_at
          limit ${batchSize}
          for update of d skip locked)
        returning id, notification_id, device_id, attempts)
      select l.id, l.notification_id, l.device_id, l.attempts,
        n.user_id, n.kind, n.subject_kind, n.subject_id, n.post_id, n.circle_id,
        dv.platform, dv.token, dv.locale,
        q.enabled as quiet_enabled, q.start_minute, q.end_minute, q.time_zone
      from leased l
      join notification n on n.id = l.notification_id
      left join device dv on dv.id = l.device_id and dv.user_id = n.user_id
      left join quiet_hours q on q.user_id = n.user_id`.execute(this.#o.db.kysely);
    await Promise.all(
      leased.rows.map(async (row) => {
        try {
          await this.#deliver(row);
        } catch (err) {
          // The lease expires and the delivery is tried again (its attempt counted).
          this.#o.logger.error(
            { err, deliveryId: row.id },
            "recording a push delivery failed; it will be retried",
          );
        }
      }),
    );
    return leased.rows.length;
  }

  async #deliver(row: Leased): Promise<void> {
    if (row.platform === null || row.token === null) {
      await this.#finish(row, "dropped", dropReasons.deviceUnregistered);
      return;
    }
    if (row.kind !== "sos") {
      const until = quietUntil(
        row.quiet_enabled === null
          ? undefined
          : {
              enabled: row.quiet_enabled,
              startMinute: row.start_minute ?? 0,
              endMinute: row.end_minute ?? 0,
              timeZone: row.time_zone ?? "UTC",
            },
        this.#o.now(),
      );
      if (until !== undefined) {
        await this.#defer(row, until);
        return;
      }
    }
    const provider = this.#o.providers[row.platform];
    if (provider === undefined) {
      await this.#finish(row, "dropped", `no provider for ${row.platform}`);
      return;
    }
    const message = pushMessage(
      {
        notificationId: row.notification_id,
        kind: row.kind,
        subjectKind: row.subject_kind,
        subjectId: row.subject_id,
        postId: row.post_id,
        circleId: row.circle_id,
      },
      { token: row.token, locale: row.locale ?? "en" },
      this.#o.settings.payload,
    );
    let result: PushResult;
    try {
      result = await provider.send(message, this.#loop.signal);
    } catch (err) {
      if (this.#loop.signal.aborted) {
        await this.#release(row);
        return;
      }
      result = { outcome: "retry", reason: err instanceof Error ? err.message : String(err) };
    }
    await this.#record(row, result, row.token);
  }

  async #record(row: Leased, result: PushResult, token: string): Promise<void> {
    switch (result.outcome) {
      case "sent":
        await this.#finish(row, "sent", null, result.providerId ?? null);
        return;
      case "failed":
        await this.#finish(row, "failed", result.reason);
        return;
      case "invalid_token":
        await this.#invalidToken(row, token, result.reason, result.invalidSince);
        return;
      case "retry": {
        const { maxAttempts, retryBaseMs, retryMaxMs } = this.#o.settings;
        // Nothing left (open circuit, rate cap): not an attempt, so an outage cannot use them up.
        const notSent = result.notSent === true;
        if (!notSent && row.attempts >= maxAttempts) {
          await this.#finish(
            row,
            "failed",
            `gave up after ${row.attempts} attempts: ${result.reason}`,
          );
          return;
        }
        const delayMs = Math.max(
          result.retryAfterMs ?? 0,
          backoffDelay(Math.max(0, row.attempts - 1), retryBaseMs, retryMaxMs),
        );
        const updated = await this.#o.db.transaction((trx) =>
          trx
            .updateTable("delivery")
            .set((eb) => ({
              next_attempt_at: sql<Date>`now() + ${`${delayMs} milliseconds`}::interval`,
              lease_until: null,
              last_error: result.reason.slice(0, 500),
              updated_at: sql<Date>`now()`,
              ...(notSent ? { attempts: eb("attempts", "-", 1) } : {}),
            }))
            .where("id", "=", row.id)
            .where("status", "=", "queued")
            .executeTakeFirst(),
        );
        if (updated.numUpdatedRows > 0n) this.#count(row.kind, "retried");
      }
    }
  }

  /**
   * Ends a delivery. A push that went out is recorded as sent even when the delivery was dropped
   * while it was in flight (the log tells what happened); any other end applies only to a
   * delivery still queued.
   */
  async #finish(
    row: Leased,
    status: "sent" | "failed" | "dropped",
    reason: string | null,
    providerId: string | null = null,
  ): Promise<void> {
    const changed = await this.#o.db.transaction(async (trx) => {
      const update = trx
        .updateTable("delivery")
        .set({
          status,
          reason: reason?.slice(0, 500) ?? null,
          provider_id: providerId,
          lease_until: null,
          updated_at: sql<Date>`now()`,
        })
        .where("id", "=", row.id);
      const updated = await (status === "sent"
        ? update.where("status", "<>", "sent")
        : update.where("status", "=", "queued")
      ).executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return false;
      await settleNotifications(trx, [row.notification_id]);
      return true;
    });
    if (changed) this.#count(row.kind, status);
  }

  /** The token is dead: the device goes, with everything still queued for it. */
  /**
   * The provider refused the token: this push failed, and the device is removed with its queued
   * pushes, unless it was registered again after the provider's `invalidSince` (APNs: a token
   * registered after that time is valid again).
   */
  async #invalidToken(
    row: Leased,
    token: string,
    reason: string,
    invalidSince: Date | undefined,
  ): Promise<void> {
    const { metrics } = this.#o;
    const changed = await this.#o.db.transaction(async (trx) => {
      const updated = await trx
        .updateTable("delivery")
        .set({
          status: "failed",
          reason: `invalid token: ${reason}`.slice(0, 500),
          lease_until: null,
          updated_at: sql<Date>`now()`,
        })
        .where("id", "=", row.id)
        .where("status", "=", "queued")
        .executeTakeFirst();
      let removal = trx
        .deleteFrom("device")
        .where("id", "=", row.device_id)
        .where("token", "=", token);
      if (invalidSince !== undefined) removal = removal.where("last_seen_at", "<", invalidSince);
      const removed = await removal.executeTakeFirst();
      if (removed.numDeletedRows > 0n) {
        await dropQueued(
          trx,
          (eb) => eb("delivery.device_id", "=", row.device_id),
          dropReasons.deviceUnregistered,
          { metrics },
        );
      }
      await settleNotifications(trx, [row.notification_id]);
      return { failed: updated.numUpdatedRows > 0n, removed: removed.numDeletedRows > 0n };
    });
    this.#o.logger.info(
      { deviceId: row.device_id, userId: row.user_id },
      changed.removed
        ? "push token refused by the provider; device removed"
        : "push token refused by the provider, but registered again since; device kept",
    );
    if (changed.failed) this.#count(row.kind, "failed");
  }

  /** Quiet hours: not an attempt; tried again when they end. */
  async #defer(row: Leased, until: Date): Promise<void> {
    const updated = await this.#o.db.transaction((trx) =>
      trx
        .updateTable("delivery")
        .set((eb) => ({
          next_attempt_at: until,
          lease_until: null,
          attempts: eb("attempts", "-", 1),
          updated_at: sql<Date>`now()`,
        }))
        .where("id", "=", row.id)
        .where("status", "=", "queued")
        .executeTakeFirst(),
    );
    if (updated.numUpdatedRows > 0n) this.#count(row.kind, "deferred");
  }

  /** Shutdown interrupted the send: give the delivery back without counting the attempt. */
  async #release(row: Leased): Promise<void> {
    await this.#o.db.transaction((trx) =>
      trx
        .updateTable("delivery")
        .set((eb) => ({ lease_until: null, attempts: eb("attempts", "-", 1) }))
        .where("id", "=", row.id)
        .where("status", "=", "queued")
        .execute(),
    );
  }

  #count(kind: KindName, outcome: DeliveryOutcome): void {
    this.#o.metrics.delivery(kind, outcome);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#loop[Symbol.asyncDispose]();
  }
}
