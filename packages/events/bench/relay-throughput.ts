import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { republishSince } from "../src/index.ts";
import { authorId, postCreated, postMessage } from "./fixture.ts";
import { startRelay, untilLeader } from "./relay-run.ts";
import type { World } from "./world.ts";

export interface WriteOptions {
  /** Concurrent transactions; each writer owns its own aggregates (no lock waits, no deadlocks). */
  writers: number;
  eventsPerTransaction: number;
  /** Distinct posts the events are spread over; a multiple of `writers`. */
  aggregates: number;
}

/**
 * Commits `count` events through `Outbox.enqueue`, `eventsPerTransaction` per transaction.
 * Event i belongs to post `i % aggregates`, so any window of consecutive rows spans many
 * aggregates. Returns committed events per second.
 */
export async function writeEvents(world: World, count: number, o: WriteOptions): Promise<number> {
  const posts = Array.from({ length: o.aggregates }, () => randomUUID());
  const writer = async (w: number) => {
    for (let first = w; first < count; first += o.writers * o.eventsPerTransaction) {
      await world.db.transaction(async (trx) => {
        for (let k = 0; k < o.eventsPerTransaction; k++) {
          const i = first + k * o.writers;
          if (i >= count) break;
          const postId = posts[i % o.aggregates] ?? "";
          await world.outbox.enqueue(trx, postCreated, postMessage(postId), {
            actorId: authorId,
            aggregateId: postId,
          });
        }
      });
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: o.writers }, (_, w) => writer(w)));
  return count / ((performance.now() - started) / 1000);
}

/**
 * Every row unsent again (`republish --since`), the table compacted and analysed, WAL flushed.
 * Resolves to the unsent rows.
 */
export async function resetBacklog(world: World): Promise<number> {
  await republishSince(world.db, new Date(0));
  await settle(world);
  const { rows } = await sql<{ count: string }>`
    select count(*) as count from event_outbox where sent_at is null`.execute(world.db.kysely);
  return Number(rows[0]?.count ?? 0);
}

export async function emptyOutbox(world: World): Promise<void> {
  await sql`truncate event_outbox`.execute(world.db.kysely);
  await settle(world);
}

async function settle(world: World): Promise<void> {
  await sql`vacuum (full, analyze) event_outbox`.execute(world.db.kysely);
  await sql`checkpoint`.execute(world.db.kysely);
}

/**
 * Sustained relay throughput: `count` committed, unsent rows; one relay starts and publishes
 * until all are acknowledged and marked sent. Events per second from `start()` (includes taking
 * the lease) to the last `sent_at` update.
 */
export async function drainBacklog(
  world: World,
  count: number,
  batchSize: number,
): Promise<number> {
  await world.freshStream();
  const backlog = await resetBacklog(world);
  if (backlog !== count) throw new Error(`backlog is ${backlog}, expected ${count}`);
  const started = performance.now();
  await using run = await startRelay(world, { batchSize, pollIntervalMs: 10 });
  await run.publishedReaches(count, 60_000);
  const seconds = (performance.now() - started) / 1000;
  const { count: left } = await run.relay.backlog();
  const stored = await world.storedMessages();
  if (left !== 0 || stored !== count) {
    throw new Error(`after draining: ${left} unsent rows, ${stored} of ${count} in the stream`);
  }
  return count / seconds;
}

export interface ConcurrentResult {
  /** Events committed per second by the writers. */
  writeRate: number;
  /** Events the relay published per second while the writers ran. */
  relayRateDuringWrites: number;
  /** Unsent rows when the writers finished. */
  backlogAtEnd: number;
  /** From the writers' start until the last event was published. */
  endToEndRate: number;
}

/** The relay running while writers commit `count` events (relay idle and leading at start). */
export async function relayWithWriters(
  world: World,
  count: number,
  batchSize: number,
  write: WriteOptions,
): Promise<ConcurrentResult> {
  await world.freshStream();
  await emptyOutbox(world);
  await using run = await startRelay(world, { batchSize, pollIntervalMs: 10 });
  await untilLeader(run.relay);
  const started = performance.now();
  const writeRate = await writeEvents(world, count, write);
  const writeSeconds = (performance.now() - started) / 1000;
  const publishedDuringWrites = await run.published();
  await run.publishedReaches(count, 60_000);
  const seconds = (performance.now() - started) / 1000;
  const stored = await world.storedMessages();
  if (stored !== count) throw new Error(`stream holds ${stored} of ${count} events`);
  return {
    writeRate,
    relayRateDuringWrites: publishedDuringWrites / writeSeconds,
    backlogAtEnd: count - publishedDuringWrites,
    endToEndRate: count / seconds,
  };
}
