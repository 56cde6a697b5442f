import { DomainError } from "@kindred/errors";
import { callerOf, requireManager, sameId, visibleCircle } from "../access.ts";
import { audit } from "../audit.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { hashInviteCode } from "../invites.ts";

/**
 * Revokes an invite code: its creator, the circle's owners and moderators, and platform staff
 * may. Revoking a revoked code succeeds and changes nothing; archived circles allow it.
 */
export function revokeInvite(deps: CirclesDeps): Method<"revokeInvite"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        const invite = await trx
          .selectFrom("circle_invite")
          .selectAll()
          .where("code_hash", "=", hashInviteCode(req.code))
          .where("circle_id", "=", req.circleId)
          .executeTakeFirst();
        if (invite === undefined) {
          throw new DomainError("not_found", "no such invite code in this circle", {
            reason: "INVITE_NOT_FOUND",
          });
        }
        if (!sameId(invite.created_by, caller.userId)) requireManager(s, "revoke others' invites");
        if (invite.revoked_at !== null) return;
        const at = deps.now();
        await trx
          .updateTable("circle_invite")
          .set({ revoked_at: at, revoked_by: caller.userId })
          .where("id", "=", invite.id)
          .execute();
        await audit(
          trx,
          ctx,
          s,
          { kind: "invite_revoked", circleId: req.circleId, details: { invite: invite.id } },
          at,
        );
      },
      { idempotent: true },
    );
    return {};
  };
}
