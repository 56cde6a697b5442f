import { callerOf, requireManager, visibleCircle } from "../access.ts";
import { audit } from "../audit.ts";
import type { CirclesDeps, Method } from "../deps.ts";

/**
 * Lifts a user's ban: owners, circle moderators and platform staff. Lifting a ban that does
 * not exist or has expired changes nothing and succeeds. The user is not re-added: they may
 * join again.
 */
export function unbanMember(deps: CirclesDeps): Method<"unbanMember"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        requireManager(s, "lift bans");
        const at = deps.now();
        const lifted = await trx
          .deleteFrom("circle_ban")
          .where("circle_id", "=", req.circleId)
          .where("user_id", "=", req.userId)
          .returning(["user_id", "expires_at"])
          .executeTakeFirst();
        if (lifted === undefined) return;
        if (lifted.expires_at !== null && lifted.expires_at.getTime() <= at.getTime()) return;
        await audit(
          trx,
          ctx,
          s,
          { kind: "member_unbanned", circleId: req.circleId, userId: lifted.user_id },
          at,
        );
      },
      { idempotent: true },
    );
    return {};
  };
}
