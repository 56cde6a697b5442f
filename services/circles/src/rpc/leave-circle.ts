import { callerOf, circleNotFound, requireAnotherOwner, standingIn } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { endMembership } from "../membership.ts";

/**
 * Leaves a circle (archived ones too). Leaving a circle one is not in changes nothing and
 * succeeds, so a retried call does too; an unknown circle is `not_found`. The last owner must
 * make someone else owner first.
 */
export function leaveCircle(deps: CirclesDeps): Method<"leaveCircle"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    await deps.db.transaction(
      async (trx) => {
        const s = await standingIn(trx, caller, req.circleId, { lock: true });
        if (s === undefined) throw circleNotFound();
        if (s.role === undefined) return;
        if (s.role === "owner") {
          await requireAnotherOwner(
            trx,
            req.circleId,
            "you are the circle's last owner: make another member an owner before you leave",
          );
        }
        await endMembership(deps, trx, {
          actor: caller,
          circleId: req.circleId,
          userId: caller.userId,
          at: deps.now(),
          how: { kind: "left" },
        });
      },
      { idempotent: true },
    );
    return {};
  };
}
