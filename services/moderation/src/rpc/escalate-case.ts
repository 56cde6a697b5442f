import { DomainError } from "@kindred/errors";
import { callerOf, visibleCase } from "../access.ts";
import { raiseCase } from "../cases.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toCase } from "../mapping.ts";
import { highPriority } from "../names.ts";

/**
 * Moves a circle-scoped case to platform moderators, at high priority or above: a circle
 * moderator's way to say "this needs someone with more power". Their own circle then no longer
 * sees it.
 */
export function escalateCase({ db, outbox, now }: ModerationDeps): Method<"escalateCase"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    return db.transaction(async (trx) => {
      const row = await visibleCase(trx, caller, req.caseId.toLowerCase(), { lock: true });
      if (row.status === "resolved") {
        throw new DomainError("failed_precondition", "the case is already resolved", {
          reason: "CASE_RESOLVED",
        });
      }
      if (row.scope === "platform") {
        throw new DomainError(
          "failed_precondition",
          "the case is already with platform moderators",
          {
            reason: "ALREADY_ESCALATED",
          },
        );
      }
      const at = now();
      const updated = await raiseCase(trx, outbox, row, {
        priority: highPriority,
        reason: row.reason,
        platform: true,
        automatic: false,
        actorId: caller.userId,
        note: req.note,
        now: at,
      });
      return { case: toCase(updated, at) };
    });
  };
}
