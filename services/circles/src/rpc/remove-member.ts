import { DomainError } from "@kindred/errors";
import {
  callerOf,
  requireAnotherOwner,
  requireManager,
  requireMayActOn,
  requireMembership,
  sameId,
  visibleCircle,
} from "../access.ts";
import { audit } from "../audit.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { endMembership } from "../membership.ts";

/**
 * Removes a member (they may join again unless banned): owners, circle moderators (regular
 * members only) and platform staff; archived circles allow it. The reason is kept in the
 * circle's audit log.
 */
export function removeMember(deps: CirclesDeps): Method<"removeMember"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    if (sameId(req.userId, caller.userId)) {
      throw new DomainError("invalid_argument", "user_id is you: use LeaveCircle to leave");
    }
    await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        requireManager(s, "remove members");
        const target = await requireMembership(trx, req.circleId, req.userId);
        requireMayActOn(s, target.role, "remove");
        if (target.role === "owner") {
          await requireAnotherOwner(trx, req.circleId, "the circle's last owner cannot be removed");
        }
        const at = deps.now();
        await endMembership(deps, trx, {
          actor: caller,
          circleId: req.circleId,
          userId: target.user_id,
          at,
          how: { kind: "removed" },
        });
        await audit(
          trx,
          ctx,
          s,
          {
            kind: "member_removed",
            circleId: req.circleId,
            userId: target.user_id,
            details: { reason: req.reason.trim(), role: target.role },
          },
          at,
        );
      },
      { idempotent: true },
    );
    return {};
  };
}
