import { DomainError } from "@kindred/errors";
import { newEventId } from "@kindred/events";
import { callerOf } from "../access.ts";
import { writeLog } from "../case-log.ts";
import { setEvidenceRelease } from "../decisions.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toAppeal } from "../mapping.ts";

const decisionNotFound = () =>
  new DomainError("not_found", "decision not found", { reason: "DECISION_NOT_FOUND" });

/**
 * The affected user appeals a decision against them, once, within the appeal window. The
 * evidence stays held until the appeal is decided.
 */
export function appealDecision({ db, outbox, now }: ModerationDeps): Method<"appealDecision"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    return db.transaction(async (trx) => {
      const decision = await trx
        .selectFrom("decision")
        .selectAll()
        .where("id", "=", req.decisionId.toLowerCase())
        .forUpdate()
        .executeTakeFirst();
      // Someone else's decision looks like no decision at all.
      if (decision === undefined || decision.affected_user_id !== caller.userId) {
        throw decisionNotFound();
      }
      const at = now();
      if (decision.appealable_until === null || decision.reversed_at !== null) {
        throw new DomainError("failed_precondition", "this decision has nothing to appeal", {
          reason: "NOT_APPEALABLE",
        });
      }
      if (decision.appealable_until.getTime() <= at.getTime()) {
        throw new DomainError(
          "failed_precondition",
          `the appeal window closed at ${decision.appealable_until.toISOString()}`,
          { reason: "APPEAL_WINDOW_CLOSED" },
        );
      }
      const appeal = await trx
        .insertInto("appeal")
        .values({
          id: newEventId(),
          decision_id: decision.id,
          appellant_id: caller.userId,
          statement: req.statement,
          resolved_by: null,
          created_at: at,
          resolved_at: null,
        })
        .onConflict((oc) => oc.column("decision_id").doNothing())
        .returningAll()
        .executeTakeFirst();
      if (appeal === undefined) {
        throw new DomainError("already_exists", "you already appealed this decision", {
          reason: "APPEAL_EXISTS",
        });
      }
      const caseRow = await trx
        .selectFrom("mod_case")
        .select("circle_id")
        .where("id", "=", decision.case_id)
        .executeTakeFirstOrThrow();
      await writeLog(trx, {
        kind: "appeal_filed",
        caseId: decision.case_id,
        circleId: caseRow.circle_id,
        actorId: null,
        userId: caller.userId,
        note: req.statement,
      });
      await setEvidenceRelease(trx, outbox, decision.case_id, null, at);
      return { appeal: toAppeal(appeal) };
    });
  };
}
