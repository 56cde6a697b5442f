import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import { BatchLoop } from "@kindred/jobs";
import type { Logger } from "@kindred/logging";
import { sql } from "kysely";
import { Counter, Histogram, type Registry } from "prom-client";
import { openOrJoinCase } from "./cases.ts";
import type { ContentKind, ModerationDatabase } from "./db/schema.ts";
import { criticalPriority, severityRank } from "./names.ts";
import type { Classifier } from "./outbound/classifier.ts";
import type {
  AuthorSignals,
  MatchResult,
  PriorityName,
  ScanInput,
  ScanVerdict,
} from "./rules/types.ts";

/** The rules engine as the scanner uses it (the current rules, reloaded without restart). */
export interface RulesEngine {
  evaluate(input: ScanInput, signals: AuthorSignals): Promise<ScanVerdict>;
}

export interface ScannerOptions {
  db: Database<ModerationDatabase>;
  outbox: Outbox;
  rules: () => RulesEngine;
  /** Merges the classifier's matches into the rules' verdict. */
  combine: (matches: MatchResult[], fingerprint: string) => ScanVerdict;
  classifier: Classifier | undefined;
  logger: Logger;
  registry: Registry;
  /** How often to look for items that no wake-up announced (other replicas, retries). */
  pollMs: number;
  batchSize?: number;
  /** How long a scan may take before another replica may take the item over. */
  leaseMs?: number;
  /** Scans of one item that fail this often mark it `failed` (logged, counted). */
  maxAttempts?: number;
  now?: () => Date;
}

type ScanRow = {
  event_id: string;
  content_kind: ContentKind;
  content_id: string;
  body: string;
  attempts: number;
  received_at: Date;
};

const priorities: Record<PriorityName, number> = { low: 1, normal: 2, high: 3, critical: 4 };

/**
 * Runs queued posts and responses through the rules and the classifier, and opens or raises
 * cases for what matched (ADR 16). Items are leased (`lease_until`) rather than locked, so no
 * transaction stays open across the classifier's network call; a replica that dies mid-scan
 * leaves its lease to expire, and another takes the item over. The result is written in one
 * transaction that also marks the item scanned, so a retried item is never applied twice.
 */
export class Scanner implements AsyncDisposable {
  readonly #o: Required<Omit<ScannerOptions, "classifier">> & {
    classifier: Classifier | undefined;
  };
  readonly #loop: BatchLoop;
  readonly #scans: Counter<"outcome">;
  readonly #duration: Histogram;

  constructor(options: ScannerOptions) {
    this.#o = {
      batchSize: 20,
      leaseMs: 60_000,
      maxAttempts: 5,
      now: () => new Date(),
      ...options,
    };
    this.#loop = new BatchLoop({
      batch: () => this.#batch(),
      pollMs: options.pollMs,
      logger: options.logger,
      failureMessage: "moderation scanner batch failed",
    });
    const registers = [options.registry];
    this.#scans = new Counter({
      name: "kindred_moderation_scans_total",
      help: "Posts and responses scanned, by outcome (none, allow, flag, hide, failed).",
      labelNames: ["outcome"],
      registers,
    });
    this.#duration = new Histogram({
      name: "kindred_moderation_scan_duration_seconds",
      help: "Time to scan one item: rules, classifier and the write of the result.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
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

  async #batch(): Promise<number> {
    const { db, batchSize, leaseMs } = this.#o;
    const leased = await sql<ScanRow>`
      update scan_item set lease_until = now() + ${`${leaseMs} milliseconds`}::interval,
        attempts = attempts + 1
      where event_id in (
        select event_id from scan_item
        where status = 'pending' and (lease_until is null or lease_until < now())
        order by received_at limit ${batchSize}
        for update skip locked)
      returning event_id, content_kind, content_id, body, attempts, received_at`.execute(db.kysely);
    for (const row of leased.rows) {
      const end = this.#duration.startTimer();
      try {
        const outcome = await this.#scan(row);
        this.#scans.inc({ outcome });
      } catch (err) {
        const failed = row.attempts >= this.#o.maxAttempts;
        this.#o.logger.error(
          { err, eventId: row.event_id, attempts: row.attempts, failed },
          failed ? "giving up on scanning an item" : "scanning an item failed; it will be retried",
        );
        if (failed) {
          await db.kysely
            .updateTable("scan_item")
            .set({ status: "failed", scanned_at: this.#o.now() })
            .where("event_id", "=", row.event_id)
            .execute();
          this.#scans.inc({ outcome: "failed" });
        }
      } finally {
        end();
      }
    }
    return leased.rows.length;
  }

  async #scan(row: ScanRow): Promise<string> {
    const { db, outbox } = this.#o;
    const item = await db.kysely
      .selectFrom("content_item")
      .selectAll()
      .where("content_kind", "=", row.content_kind)
      .where("content_id", "=", row.content_id)
      .executeTakeFirstOrThrow();
    const input: ScanInput = {
      kind: row.content_kind,
      contentId: row.content_id,
      authorId: item.author_id,
      circleId: item.circle_id,
      body: row.body,
      at: row.received_at,
    };
    const verdict = await this.#o.rules().evaluate(input, this.#signals(input));
    const classified =
      this.#o.classifier === undefined
        ? undefined
        : await this.#o.classifier.classify(row.body, this.#loop.signal);
    const matches = [
      ...verdict.matches,
      ...(classified?.status === "ok" ? classified.matches : []),
    ];
    const combined = this.#o.combine(matches, verdict.fingerprint);
    const outcome = combined.outcome;
    const at = this.#o.now();
    await db.transaction(async (trx) => {
      const still = await trx
        .selectFrom("scan_item")
        .select("status")
        .where("event_id", "=", row.event_id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (still.status !== "pending") return; // another replica finished it after our lease ran out
      await trx
        .updateTable("content_item")
        .set({ fingerprint: verdict.fingerprint })
        .where("content_kind", "=", row.content_kind)
        .where("content_id", "=", row.content_id)
        .execute();
      const target = { kind: row.content_kind, id: row.content_id } as const;
      const opens = outcome === "flag" || outcome === "hide";
      const recorded = [...matches];
      if (classified?.status === "unavailable" && opens) {
        // The case says the classifier did not look at it; the rules still did.
        recorded.push({
          ruleId: "classifier",
          severity: "low",
          outcome: "allow",
          reason: "other",
          detail: `classifier unavailable (${classified.reason}): rules only`,
        });
      }
      for (const match of recorded) {
        const fromClassifier = match.ruleId.startsWith("classifier");
        await trx
          .insertInto("rule_match")
          .values({
            target_kind: target.kind,
            target_id: target.id,
            rule_id: match.ruleId,
            source: fromClassifier ? "classifier" : "rule",
            severity: severityRank(match.severity),
            outcome: match.outcome,
            reason: match.reason,
            detail: match.detail.slice(0, 500),
            matched_at: at,
          })
          .execute();
      }
      if (opens) {
        const priority = priorities[combined.priority ?? "normal"];
        const ruleIds = matches.filter((m) => m.outcome !== "allow").map((m) => m.ruleId);
        await openOrJoinCase(
          trx,
          outbox,
          {
            target: {
              kind: target.kind,
              id: target.id,
              postId: item.post_id,
              circleId: item.circle_id,
              userId: item.author_id,
              text: row.body,
            },
            priority,
            reason: combined.reason ?? "other",
            platform: priority >= criticalPriority,
            ...(outcome === "hide"
              ? {
                  hide: {
                    ruleIds: matches.filter((m) => m.outcome === "hide").map((m) => m.ruleId),
                  },
                }
              : {}),
            note: `automatic: ${[...new Set(ruleIds)].join(", ")}`,
          },
          at,
        );
      }
      await trx
        .updateTable("scan_item")
        .set({ status: "scanned", scanned_at: at, lease_until: null })
        .where("event_id", "=", row.event_id)
        .execute();
    });
    return outcome;
  }

  #signals(input: ScanInput): AuthorSignals {
    const db = this.#o.db.kysely;
    return {
      async accountCreatedAt(authorId) {
        const row = await db
          .selectFrom("account")
          .select("created_at")
          .where("user_id", "=", authorId)
          .executeTakeFirst();
        return row?.created_at ?? undefined;
      },
      async recentActivity(authorId, since, fingerprint) {
        const row = await db
          .selectFrom("content_item")
          .select((eb) => [
            eb.fn.countAll<string>().as("count"),
            eb.fn
              .count<string>(eb.case().when("fingerprint", "=", fingerprint).then(1).end())
              .as("duplicates"),
          ])
          .where("author_id", "=", authorId)
          .where("created_at", ">=", since)
          .where("created_at", "<", input.at)
          .where((eb) =>
            eb.not(
              eb.and([eb("content_kind", "=", input.kind), eb("content_id", "=", input.contentId)]),
            ),
          )
          .executeTakeFirstOrThrow();
        return { count: Number(row.count), duplicates: Number(row.duplicates) };
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#loop[Symbol.asyncDispose]();
  }
}
