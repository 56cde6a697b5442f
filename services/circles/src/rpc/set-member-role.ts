import {
  callerOf,
  requireActive,
  requireAnotherOwner,
  requireMembership,
  requireOwner,
  visibleCircle,
} from "../access.ts";
import { audit } from "../audit.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { roleFromProto, toMember } from "../mapping.ts";
import { changeRole } from "../membership.ts";

/**
 * Changes a member's role: owners only (and platform staff), any member including themselves,
 * as long as the circle keeps an owner. Setting the role a member has changes nothing.
 */
export function setMemberRole(deps: CirclesDeps): Method<"setMemberRole"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const role = roleFromProto(req.role);
    const member = await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        requireOwner(s, "change members' roles");
        requireActive(s, "change roles");
        const target = await requireMembership(trx, req.circleId, req.userId);
        if (target.role === role) return target;
        if (target.role === "owner") {
          await requireAnotherOwner(
            trx,
            req.circleId,
            "a circle needs an owner: make another member an owner first",
          );
        }
        const at = deps.now();
        const updated = await changeRole(deps, trx, {
          actor: caller,
          circleId: req.circleId,
          userId: target.user_id,
          role,
          at,
        });
        await audit(
          trx,
          ctx,
          s,
          {
            kind: "member_role_changed",
            circleId: req.circleId,
            userId: target.user_id,
            details: { from: target.role, to: role },
          },
          at,
        );
        return updated;
      },
      { idempotent: true },
    );
    return { member: toMember(member) };
  };
}
