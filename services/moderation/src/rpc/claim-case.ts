import { DomainError } from "@kindred/errors";
import { callerOf, holdsClaim, visibleCase } from "../access.ts";
import { writeLog } from "../case-log.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toCase } from "../mapping.ts";

/**
 * Assigns an unresolved case to the caller for `CLAIM_TTL_SECONDS`, so that two moderators do
 * not work it at once. Claiming a case one already holds extends the claim; a live claim of
 * someone else is refused until it expires.
 */
export function claimCase({ db, settings, now }: ModerationDeps): Method<"claimCase"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    return db.transaction(async (trx) => {
      const row = await visibleCase(trx, caller, req.caseId.toLowerCase(), { lock: true });
      const at = now();
      if (row.status === "resolved") {
        throw new DomainError("failed_precondition", "the case is already resolved", {
          reason: "CASE_RESOLVED",
        });
      }
      const liveOther =
        !holdsClaim(row, caller, at) &&
        row.claim_expires_at !== null &&
        row.claim_expires_at.getTime() > at.getTime();
      if (liveOther) {
        throw new DomainError(
          "failed_precondition",
          `another moderator holds the case until ${row.claim_expires_at?.toISOString()}`,
          { reason: "CASE_CLAIMED" },
        );
      }
      const expires = new Date(at.getTime() + settings.claimTtlSeconds * 1000);
      const updated = await trx
        .updateTable("mod_case")
        .set({
          assignee_id: caller.userId,
          claim_expires_at: expires,
          expired_claim_by: null,
          updated_at: at,
        })
        .where("id", "=", row.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await writeLog(trx, {
        kind: "claimed",
        caseId: row.id,
        circleId: row.circle_id,
        actorId: caller.userId,
        userId: row.subject_user_id,
        note: `claimed until ${expires.toISOString()}`,
      });
      return { case: toCase(updated, at) };
    });
  };
}
