import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import { writeLog } from "./case-log.ts";
import type { ModerationDatabase } from "./db/schema.ts";
import { releaseEvidence } from "./decisions.ts";

/**
 * The moderation sweep (a job, one replica at a time): ends expired claims, logging each, and
 * publishes the evidence releases whose time came (the appeal window closed without an appeal).
 * Each step is its own short transaction, locking its row `skip locked`; repeating it is safe.
 */
export async function sweep(
  db: Database<ModerationDatabase>,
  outbox: Outbox,
  { now, signal, limit = 500 }: { now: () => Date; signal?: AbortSignal; limit?: number },
): Promise<{ claimsExpired: number; evidenceReleased: number }> {
  let claimsExpired = 0;
  let evidenceReleased = 0;
  while (claimsExpired < limit && signal?.aborted !== true) {
    const done = await db.transaction(async (trx) => {
      const at = now();
      const row = await trx
        .selectFrom("mod_case")
        .selectAll()
        .where("claim_expires_at", "<=", at)
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (row === undefined) return false;
      await trx
        .updateTable("mod_case")
        .set({
          assignee_id: null,
          claim_expires_at: null,
          expired_claim_by: row.assignee_id,
          updated_at: at,
        })
        .where("id", "=", row.id)
        .execute();
      await writeLog(trx, {
        kind: "claim_expired",
        caseId: row.id,
        circleId: row.circle_id,
        actorId: null,
        userId: row.subject_user_id,
        note: `the claim of ${row.assignee_id} expired without a decision`,
      });
      return true;
    });
    if (!done) break;
    claimsExpired += 1;
  }
  while (evidenceReleased < limit && signal?.aborted !== true) {
    const done = await db.transaction(async (trx) => {
      const at = now();
      const hold = await trx
        .selectFrom("evidence_hold")
        .select("case_id")
        .where("released_at", "is", null)
        .where("release_at", "<=", at)
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (hold === undefined) return false;
      await releaseEvidence(trx, outbox, hold.case_id, at);
      return true;
    });
    if (!done) break;
    evidenceReleased += 1;
  }
  return { claimsExpired, evidenceReleased };
}
