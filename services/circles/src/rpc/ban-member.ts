import { DomainError } from "@kindred/errors";
import {
  callerOf,
  requireAnotherOwner,
  requireManager,
  requireMayActOn,
  sameId,
  visibleCircle,
} from "../access.ts";
import { audit } from "../audit.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toBan } from "../mapping.ts";
import { endMembership } from "../membership.ts";

/**
 * Bans a user from a circle until the ban expires (or for good), removing them if they are a
 * member (one `MemberRemoved` that carries the ban). Anyone may be banned, member or not; a
 * new ban of a banned user replaces the old one. Owners, circle moderators (regular members
 * only) and platform staff; archived circles allow it.
 */
export function banMember(deps: CirclesDeps): Method<"banMember"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    if (sameId(req.userId, caller.userId)) {
      throw new DomainError("invalid_argument", "user_id is you: you cannot ban yourself");
    }
    const reason = req.reason.trim();
    const ban = await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        requireManager(s, "ban people");
        const member = await trx
          .selectFrom("circle_member")
          .selectAll()
          .where("circle_id", "=", req.circleId)
          .where("user_id", "=", req.userId)
          .executeTakeFirst();
        if (member !== undefined) {
          requireMayActOn(s, member.role, "ban");
          if (member.role === "owner") {
            await requireAnotherOwner(
              trx,
              req.circleId,
              "the circle's last owner cannot be banned",
            );
          }
        }
        const at = deps.now();
        const expiresAt =
          req.expiresInSeconds === undefined
            ? null
            : new Date(at.getTime() + Number(req.expiresInSeconds) * 1000);
        const values = {
          banned_by: caller.userId,
          reason,
          created_at: at,
          expires_at: expiresAt,
        };
        const row = await trx
          .insertInto("circle_ban")
          .values({ circle_id: req.circleId, user_id: req.userId, ...values })
          .onConflict((oc) => oc.columns(["circle_id", "user_id"]).doUpdateSet(values))
          .returningAll()
          .executeTakeFirstOrThrow();
        if (member !== undefined) {
          await endMembership(deps, trx, {
            actor: caller,
            circleId: req.circleId,
            userId: member.user_id,
            at,
            how: { kind: "removed", ban: { expiresAt } },
          });
        }
        await audit(
          trx,
          ctx,
          s,
          {
            kind: "member_banned",
            circleId: req.circleId,
            userId: row.user_id,
            details: {
              reason,
              until: expiresAt?.toISOString() ?? "permanent",
              wasMember: String(member !== undefined),
            },
          },
          at,
        );
        return row;
      },
      { idempotent: true },
    );
    return { ban: toBan(ban) };
  };
}
