import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DomainError } from "@kindred/errors";
import { moderationEvents } from "@kindred/event-catalog";
import { AppealOutcome } from "@kindred/proto/moderation/v1";
import { callerOf } from "../access.ts";
import { writeLog } from "../case-log.ts";
import { caseTarget } from "../cases.ts";
import { liftAccount, setEvidenceRelease } from "../decisions.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toAppeal } from "../mapping.ts";
import { actionToEvent } from "../names.ts";

/**
 * A platform moderator other than the one who decided upholds or overturns an appeal. Overturning
 * reverses the decision everywhere: content comes back, account restrictions are lifted. Either
 * way the evidence hold ends.
 */
export function resolveAppeal({ db, outbox, now }: ModerationDeps): Method<"resolveAppeal"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    if (!caller.platform) {
      throw new DomainError("permission_denied", "this call needs the moderator role", {
        reason: "NOT_A_MODERATOR",
      });
    }
    return db.transaction(async (trx) => {
      const appeal = await trx
        .selectFrom("appeal")
        .selectAll()
        .where("id", "=", req.appealId.toLowerCase())
        .forUpdate()
        .executeTakeFirst();
      if (appeal === undefined) {
        throw new DomainError("not_found", "appeal not found", { reason: "APPEAL_NOT_FOUND" });
      }
      if (appeal.status !== "pending") {
        throw new DomainError("failed_precondition", "the appeal is already resolved", {
          reason: "APPEAL_RESOLVED",
        });
      }
      const decision = await trx
        .selectFrom("decision")
        .selectAll()
        .where("id", "=", appeal.decision_id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (decision.moderator_id === caller.userId || appeal.appellant_id === caller.userId) {
        throw new DomainError(
          "permission_denied",
          "a moderator other than the one who decided, and other than the appellant, must resolve the appeal",
          { reason: "APPEAL_CONFLICT" },
        );
      }
      const at = now();
      const overturn = req.outcome === AppealOutcome.OVERTURN;
      const resolved = await trx
        .updateTable("appeal")
        .set({
          status: overturn ? "overturned" : "upheld",
          resolution_note: req.note,
          resolved_by: caller.userId,
          resolved_at: at,
        })
        .where("id", "=", appeal.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const caseRow = await trx
        .selectFrom("mod_case")
        .selectAll()
        .where("id", "=", decision.case_id)
        .executeTakeFirstOrThrow();
      if (overturn) {
        await trx
          .updateTable("decision")
          .set({ reversed_at: at })
          .where("id", "=", decision.id)
          .execute();
        await outbox.enqueue(
          trx,
          moderationEvents.decisionReversed,
          {
            decisionId: decision.id,
            caseId: decision.case_id,
            action: actionToEvent(decision.action),
            target: caseTarget(caseRow),
            affectedUserId: decision.affected_user_id ?? "",
            note: req.note,
            reversedAt: timestampFromDate(at),
          },
          { actorId: caller.userId, aggregateId: decision.case_id, occurredAt: at },
        );
        await liftAccount(trx, outbox, {
          action: decision.action,
          userId: decision.affected_user_id,
          caseId: decision.case_id,
          until: null,
          at,
          actorId: caller.userId,
        });
      }
      await writeLog(trx, {
        kind: "appeal_resolved",
        caseId: decision.case_id,
        circleId: caseRow.circle_id,
        actorId: caller.userId,
        userId: appeal.appellant_id,
        note: `${overturn ? "overturned" : "upheld"}: ${req.note}`,
      });
      await setEvidenceRelease(trx, outbox, decision.case_id, at, at);
      return { appeal: toAppeal(resolved) };
    });
  };
}
