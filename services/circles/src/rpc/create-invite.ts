import { newEventId } from "@kindred/events";
import { callerOf, requireActive, requireMember, visibleCircle } from "../access.ts";
import { audit } from "../audit.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { hashInviteCode, newInviteCode } from "../invites.ts";
import { toInvite } from "../mapping.ts";

/**
 * Creates an invite code; any member may invite (and platform staff). The code is in this
 * answer only: it is stored as a hash.
 */
export function createInvite(deps: CirclesDeps): Method<"createInvite"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const code = newInviteCode();
    const row = await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        requireMember(s, "invite people");
        requireActive(s, "invite people");
        const at = deps.now();
        const invite = await trx
          .insertInto("circle_invite")
          .values({
            id: newEventId(),
            circle_id: req.circleId,
            code_hash: hashInviteCode(code),
            created_by: caller.userId,
            max_uses: req.maxUses ?? null,
            uses: 0,
            expires_at:
              req.expiresInSeconds === undefined
                ? null
                : new Date(at.getTime() + Number(req.expiresInSeconds) * 1000),
            created_at: at,
            revoked_at: null,
            revoked_by: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await audit(
          trx,
          ctx,
          s,
          {
            kind: "invite_created",
            circleId: req.circleId,
            details: {
              invite: invite.id,
              maxUses: String(invite.max_uses ?? "unlimited"),
              expiresAt: invite.expires_at?.toISOString() ?? "never",
            },
          },
          at,
        );
        return invite;
      },
      { idempotent: true },
    );
    return { invite: toInvite(row, code) };
  };
}
