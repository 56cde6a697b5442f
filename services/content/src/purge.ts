import type { Database } from "@kindred/database";
import { type SqlBool, sql, type Transaction } from "kysely";
import type { ContentDatabase } from "./db/schema.ts";

export interface PurgeOptions {
  /** The purge's clock (the job's run time). */
  now: Date;
  /**
   * How long expired and removed content stays before it is hard-deleted: time for a report or
   * a moderation case (whose evidence hold arrives by event) to catch up with it.
   */
  graceSeconds: number;
  /** Rows per transaction; each batch holds its row locks only while it runs. */
  batchSize?: number;
  /** Stops between batches (the job runner's shutdown); what was purged stays purged. */
  signal?: AbortSignal;
}

export interface PurgeResult {
  /** Posts hard-deleted, with their responses. */
  posts: number;
  /** Responses hard-deleted, with their posts or on their own. */
  responses: number;
}

const postHeld = sql<SqlBool>`exists (select 1 from evidence_hold h
  where h.content_kind = 'post' and h.content_id = post.id)`;
const anyResponseHeld = sql<SqlBool>`exists (select 1 from response r
  join evidence_hold h on h.content_kind = 'response' and h.content_id = r.id
  where r.post_id = post.id)`;
const responseHeld = sql<SqlBool>`exists (select 1 from evidence_hold h
  where h.content_kind = 'response' and h.content_id = response.id)`;

/**
 * Hard-deletes what no read shows any more: posts expired or removed more than `graceSeconds`
 * before `now` (with all their responses), and responses removed that long ago, with what
 * content knew of their moderation cases (`moderation_case`). Content under evidence hold is
 * kept, and so is a post any of whose responses is held (deleting it would take the response
 * with it). Safe to run on several replicas at once (`skip locked`), though the job runner runs
 * one.
 *
 * Contract with whoever writes `evidence_hold` (`applyCaseEvent`, ADR 15): lock the held
 * row first (`select … from post|response where id = $1 for key share`), then insert the hold,
 * in one transaction. A batch here locks its rows `for update` before it re-checks the holds
 * in a new statement, so a hold is either committed before that check (and seen) or waits for
 * the batch (and then finds the row gone).
 */
export async function purgeExpired(
  db: Database<ContentDatabase>,
  { now, graceSeconds, batchSize = 500, signal }: PurgeOptions,
): Promise<PurgeResult> {
  const cutoff = new Date(now.getTime() - graceSeconds * 1000);
  const result: PurgeResult = { posts: 0, responses: 0 };
  for (;;) {
    signal?.throwIfAborted();
    const batch = await db.transaction((trx) => purgePostBatch(trx, cutoff, batchSize), {
      idempotent: true,
      ...(signal === undefined ? {} : { signal }),
    });
    result.posts += batch.posts;
    result.responses += batch.responses;
    if (batch.candidates < batchSize) break;
  }
  for (;;) {
    signal?.throwIfAborted();
    const batch = await db.transaction((trx) => purgeResponseBatch(trx, cutoff, batchSize), {
      idempotent: true,
      ...(signal === undefined ? {} : { signal }),
    });
    result.responses += batch.responses;
    if (batch.candidates < batchSize) break;
  }
  return result;
}

async function purgePostBatch(trx: Transaction<ContentDatabase>, cutoff: Date, limit: number) {
  const candidates = await trx
    .selectFrom("post")
    .select("id")
    .where((eb) => eb.or([eb("expires_at", "<=", cutoff), eb("deleted_at", "<=", cutoff)]))
    .where((eb) => eb.not(postHeld))
    .where((eb) => eb.not(anyResponseHeld))
    .orderBy("id")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  if (candidates.length === 0) return { candidates: 0, posts: 0, responses: 0 };
  const ids = candidates.map((c) => c.id);
  // Lock their responses too, so a hold on one of them is either committed or waits for us.
  await trx.selectFrom("response").select("id").where("post_id", "in", ids).forUpdate().execute();
  // A new statement: sees every hold committed before the locks were granted.
  const eligible = (
    await trx
      .selectFrom("post")
      .select("id")
      .where("id", "in", ids)
      .where((eb) => eb.not(postHeld))
      .where((eb) => eb.not(anyResponseHeld))
      .execute()
  ).map((p) => p.id);
  if (eligible.length === 0) return { candidates: candidates.length, posts: 0, responses: 0 };
  // What content knew of their moderation cases goes with them (all released: nothing holds them).
  await trx
    .deleteFrom("moderation_case")
    .where((eb) =>
      eb.or([
        eb.and([eb("content_kind", "=", "post"), eb("content_id", "in", eligible)]),
        eb.and([
          eb("content_kind", "=", "response"),
          eb(
            "content_id",
            "in",
            eb.selectFrom("response").select("response.id").where("post_id", "in", eligible),
          ),
        ]),
      ]),
    )
    .execute();
  const responses = await trx.deleteFrom("response").where("post_id", "in", eligible).execute();
  const posts = await trx.deleteFrom("post").where("id", "in", eligible).execute();
  return {
    candidates: candidates.length,
    posts: Number(posts[0]?.numDeletedRows ?? 0),
    responses: Number(responses[0]?.numDeletedRows ?? 0),
  };
}

async function purgeResponseBatch(trx: Transaction<ContentDatabase>, cutoff: Date, limit: number) {
  const candidates = await trx
    .selectFrom("response")
    .select("id")
    .where("deleted_at", "<=", cutoff)
    .where((eb) => eb.not(responseHeld))
    .orderBy("id")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  if (candidates.length === 0) return { candidates: 0, responses: 0 };
  const deleted = await trx
    .deleteFrom("response")
    .where(
      "id",
      "in",
      candidates.map((c) => c.id),
    )
    .where((eb) => eb.not(responseHeld))
    .returning("id")
    .execute();
  if (deleted.length > 0) {
    await trx
      .deleteFrom("moderation_case")
      .where("content_kind", "=", "response")
      .where(
        "content_id",
        "in",
        deleted.map((r) => r.id),
      )
      .execute();
  }
  return { candidates: candidates.length, responses: deleted.length };
}
