import type { Database } from "@kindred/database";
import { sql } from "kysely";

/** Rows deleted per statement, so a large backlog never holds one long transaction. */
const batch = 10_000;

/**
 * Deletes published outbox rows older than `retentionMs` (kept until then for `republish`),
 * in batches until none is left or `signal` aborts. Unsent rows are never touched. Returns the
 * number deleted. Idempotent: safe to run on any replica, at any time.
 */
export async function deletePublishedOutboxRows(
  // biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
  db: Database<any>,
  retentionMs: number,
  signal?: AbortSignal,
): Promise<number> {
  const cutoff = new Date(Date.now() - retentionMs);
  let total = 0;
  for (;;) {
    const result = await sql`
      delete from event_outbox where id in (
        select id from event_outbox where sent_at < ${cutoff} limit ${batch})`.execute(db.kysely);
    const deleted = Number(result.numAffectedRows ?? 0);
    total += deleted;
    if (deleted < batch || signal?.aborted === true) return total;
  }
}

/**
 * Deletes inbox entries older than `retentionMs`. An entry only has to outlive every possible
 * redelivery of its event: keep it longer than the source stream keeps messages (7 days), so a
 * replay of the whole stream is still recognized. Returns the number deleted.
 */
export async function deleteOldInboxEntries(
  // biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
  db: Database<any>,
  retentionMs: number,
  signal?: AbortSignal,
): Promise<number> {
  const cutoff = new Date(Date.now() - retentionMs);
  let total = 0;
  for (;;) {
    const result = await sql`
      delete from event_inbox where ctid in (
        select ctid from event_inbox where handled_at < ${cutoff} limit ${batch})`.execute(
      db.kysely,
    );
    const deleted = Number(result.numAffectedRows ?? 0);
    total += deleted;
    if (deleted < batch || signal?.aborted === true) return total;
  }
}
