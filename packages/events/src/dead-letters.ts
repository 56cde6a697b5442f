import type { Database } from "@kindred/database";
import { sql } from "kysely";
import { newEventId } from "./ids.ts";
import type { EventHeaders } from "./metadata.ts";

export interface DeadLetter {
  id: string;
  consumer: string;
  eventId: string;
  subject: string;
  headers: EventHeaders;
  payload: Uint8Array;
  error: string;
  attempts: number;
  failedAt: Date;
  replayedAt: Date | null;
}

// biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
type AnyDatabase = Database<any>;

export async function storeDeadLetter(
  db: AnyDatabase,
  letter: Omit<DeadLetter, "id" | "failedAt" | "replayedAt">,
): Promise<string> {
  const id = newEventId();
  await db.transaction(
    (trx) =>
      sql`
      insert into event_dead_letter (id, consumer, event_id, subject, headers, payload, error, attempts)
      values (${id}, ${letter.consumer}, ${letter.eventId}, ${letter.subject},
              ${JSON.stringify(letter.headers)}, ${Buffer.from(letter.payload)}, ${letter.error},
              ${letter.attempts})`.execute(trx),
    { idempotent: true },
  );
  return id;
}

interface Row {
  id: string;
  consumer: string;
  event_id: string;
  subject: string;
  headers: EventHeaders;
  payload: Uint8Array;
  error: string;
  attempts: number;
  failed_at: Date;
  replayed_at: Date | null;
}

const toLetter = (r: Row): DeadLetter => ({
  id: r.id,
  consumer: r.consumer,
  eventId: r.event_id,
  subject: r.subject,
  headers: r.headers,
  payload: r.payload,
  error: r.error,
  attempts: r.attempts,
  failedAt: r.failed_at,
  replayedAt: r.replayed_at,
});

/** Dead letters not yet replayed (or all, with `includeReplayed`), oldest first. */
export async function listDeadLetters(
  db: AnyDatabase,
  options: { consumer?: string; includeReplayed?: boolean; limit?: number } = {},
): Promise<DeadLetter[]> {
  const { rows } = await sql<Row>`
    select * from event_dead_letter
    where (${options.includeReplayed ?? false} or replayed_at is null)
      and (${options.consumer ?? null}::text is null or consumer = ${options.consumer ?? null})
    order by failed_at, id
    limit ${options.limit ?? 1000}`.execute(db.kysely);
  return rows.map(toLetter);
}

/** What replays a dead letter: the consumer that failed it. */
export interface Replayer {
  readonly name: string;
  applyStored(stored: {
    subject: string;
    headers: EventHeaders;
    payload: Uint8Array;
    deliveryCount: number;
  }): Promise<"applied" | "duplicate">;
}

export interface ReplayResult {
  id: string;
  outcome: "applied" | "duplicate" | "failed";
  error?: string;
}

/**
 * Applies dead letters again through their consumer (inbox included, so a replay is safe to
 * repeat), marking each replayed one. A letter that fails again stays, with the new error.
 */
export async function replayDeadLetters(
  db: AnyDatabase,
  consumers: readonly Replayer[],
  target: { id: string } | { all: true },
): Promise<ReplayResult[]> {
  const letters =
    "id" in target
      ? (await listDeadLetters(db, { includeReplayed: true })).filter((l) => l.id === target.id)
      : await listDeadLetters(db);
  if ("id" in target && letters.length === 0) throw new Error(`no dead letter ${target.id}`);
  const byName = new Map(consumers.map((c) => [c.name, c]));
  const results: ReplayResult[] = [];
  for (const letter of letters) {
    const consumer = byName.get(letter.consumer);
    if (consumer === undefined) {
      results.push({
        id: letter.id,
        outcome: "failed",
        error: `no consumer ${letter.consumer} here`,
      });
      continue;
    }
    try {
      const outcome = await consumer.applyStored({
        subject: letter.subject,
        headers: letter.headers,
        payload: letter.payload,
        deliveryCount: letter.attempts + 1,
      });
      await sql`update event_dead_letter set replayed_at = now() where id = ${letter.id}`.execute(
        db.kysely,
      );
      results.push({ id: letter.id, outcome });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      await sql`update event_dead_letter set error = ${error}, attempts = attempts + 1 where id = ${letter.id}`.execute(
        db.kysely,
      );
      results.push({ id: letter.id, outcome: "failed", error });
    }
  }
  return results;
}
