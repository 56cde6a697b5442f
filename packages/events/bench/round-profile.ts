import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import { type Kysely, sql } from "kysely";
import { type EventHeaders, jetStreamPublisher } from "../src/index.ts";
import { resetBacklog } from "./relay-throughput.ts";
import type { World } from "./world.ts";

interface Row {
  id: string;
  aggregate_key: string;
  subject: string;
  headers: EventHeaders;
  payload: Uint8Array;
  created_at: Date;
}

export interface RoundVariant {
  name: string;
  batchSize: number;
  /** `sent_at` updated with `synchronous_commit = off` (no WAL flush wait). */
  asyncCommit: boolean;
  /** The next round's SELECT and publishes run while the previous round's UPDATE commits. */
  overlapUpdate: boolean;
}

export interface RoundProfile {
  variant: RoundVariant;
  rounds: number;
  eventsPerSecond: number;
  /** Mean milliseconds per round spent waiting on each phase. */
  selectMs: number;
  publishMs: number;
  updateMs: number;
}

const tracer = trace.getTracer("@kindred/events-bench");

/**
 * A copy of `OutboxRelay`'s round (same SQL, same grouping into per-aggregate chains, same
 * span and publish per row) with a clock around each phase, run over the whole backlog; no
 * lease, NOTIFY or cleanup, which are not in a busy relay's path. The variants try what a
 * change to the relay would gain, without changing it.
 */
export async function profileRounds(world: World, variant: RoundVariant): Promise<RoundProfile> {
  await world.freshStream();
  await resetBacklog(world);
  const publisher = jetStreamPublisher(world.nats);
  const db = world.db.kysely;
  let pending: { ids: string[]; done: Promise<void> } | undefined;
  let rounds = 0;
  let events = 0;
  let selectMs = 0;
  let publishMs = 0;
  let updateMs = 0;
  const started = performance.now();
  for (;;) {
    const t0 = performance.now();
    const { rows } = await selectUnsent(
      db,
      variant.batchSize,
      variant.overlapUpdate ? pending : undefined,
    );
    const t1 = performance.now();
    if (rows.length === 0) break;
    selectMs += t1 - t0;
    const chains = new Map<string, Row[]>();
    for (const row of rows) {
      const chain = chains.get(row.aggregate_key);
      if (chain === undefined) chains.set(row.aggregate_key, [row]);
      else chain.push(row);
    }
    const sent: string[] = [];
    await Promise.all(
      [...chains.values()].map(async (chain) => {
        for (const row of chain) {
          const parent = propagation.extract(context.active(), row.headers);
          const span = tracer.startSpan(`publish ${row.subject}`, { kind: SpanKind.PRODUCER });
          const headers = { ...row.headers };
          propagation.inject(trace.setSpan(parent, span), headers);
          await publisher.publish(row.subject, row.payload, {
            msgID: row.id,
            headers,
            timeoutMs: 5_000,
          });
          span.end();
          sent.push(row.id);
        }
      }),
    );
    const t2 = performance.now();
    publishMs += t2 - t1;
    // At most one UPDATE outstanding: wait for the previous before sending the next.
    await pending?.done;
    const done = markSent(db, sent, variant.asyncCommit);
    pending = { ids: sent, done };
    if (!variant.overlapUpdate) await done;
    updateMs += performance.now() - t2;
    rounds++;
    events += sent.length;
  }
  const t = performance.now();
  await pending?.done;
  updateMs += performance.now() - t;
  const seconds = (performance.now() - started) / 1000;
  return {
    variant,
    rounds,
    eventsPerSecond: events / seconds,
    selectMs: selectMs / rounds,
    publishMs: publishMs / rounds,
    updateMs: updateMs / rounds,
  };
}

/** The relay's SELECT; with an UPDATE in flight, without the rows it is marking. */
function selectUnsent(db: Kysely<unknown>, limit: number, pending: { ids: string[] } | undefined) {
  if (pending === undefined) {
    return sql<Row>`
      select id, aggregate_key, subject, headers, payload, created_at
      from event_outbox where sent_at is null order by seq limit ${limit}`.execute(db);
  }
  return sql<Row>`
    select id, aggregate_key, subject, headers, payload, created_at
    from event_outbox where sent_at is null and not (id = any(${pending.ids}::uuid[]))
    order by seq limit ${limit}`.execute(db);
}

async function markSent(db: Kysely<unknown>, ids: string[], asyncCommit: boolean): Promise<void> {
  const update = sql`update event_outbox set sent_at = now() where id = any(${ids}::uuid[])`;
  if (!asyncCommit) {
    await update.execute(db);
    return;
  }
  await db.transaction().execute(async (trx) => {
    await sql`set local synchronous_commit = off`.execute(trx);
    await update.execute(trx);
  });
}
