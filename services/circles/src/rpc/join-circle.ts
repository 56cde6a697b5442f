import { DomainError } from "@kindred/errors";
import { callerOf, canSee, circleNotFound, requireActive, standingIn } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { hashInviteCode, inviteProblem } from "../invites.ts";
import { toCircle, toMember } from "../mapping.ts";
import { addMember } from "../membership.ts";

/**
 * Joins a circle as a regular member. Joining a circle one already belongs to answers the
 * membership as it is (a retried call succeeds). An invite-only circle needs a usable invite of
 * that circle; an open one needs none (a code given there is counted when it is usable and
 * otherwise ignored: the caller may join anyway).
 */
export function joinCircle(deps: CirclesDeps): Method<"joinCircle"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const { circle, member } = await deps.db.transaction(
      async (trx) => {
        const s = await standingIn(trx, caller, req.circleId, { lock: true });
        if (s === undefined) throw circleNotFound();
        if (s.role !== undefined) {
          const row = await trx
            .selectFrom("circle_member")
            .selectAll()
            .where("circle_id", "=", req.circleId)
            .where("user_id", "=", caller.userId)
            .executeTakeFirstOrThrow();
          return { circle: s.circle, member: row };
        }
        const at = deps.now();
        const invite =
          req.inviteCode === undefined
            ? undefined
            : await trx
                .selectFrom("circle_invite")
                .selectAll()
                .where("code_hash", "=", hashInviteCode(req.inviteCode))
                .where("circle_id", "=", req.circleId)
                .executeTakeFirst();
        // An invite-only circle exists, for a non-member, only through one of its codes.
        if (!canSee(s) && invite === undefined) throw circleNotFound();
        requireActive(s, "join it");

        const ban = await trx
          .selectFrom("circle_ban")
          .select("expires_at")
          .where("circle_id", "=", req.circleId)
          .where("user_id", "=", caller.userId)
          .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", at)]))
          .executeTakeFirst();
        if (ban !== undefined) {
          throw new DomainError(
            "permission_denied",
            ban.expires_at === null
              ? "you are banned from this circle"
              : `you are banned from this circle until ${ban.expires_at.toISOString()}`,
            { reason: "BANNED" },
          );
        }

        if (s.circle.visibility === "invite_only") {
          if (invite === undefined) {
            throw req.inviteCode === undefined
              ? new DomainError(
                  "permission_denied",
                  "this circle is invite-only: join it with an invite code from a member",
                  { reason: "INVITE_REQUIRED" },
                )
              : new DomainError("permission_denied", "this invite code is not for this circle", {
                  reason: "INVITE_INVALID",
                });
          }
          const problem = inviteProblem(invite, at);
          if (problem !== undefined) throw problem;
        }

        if (s.circle.member_count >= deps.settings.maxMembers) {
          throw new DomainError(
            "failed_precondition",
            `this circle is full (${deps.settings.maxMembers} members)`,
            { reason: "CIRCLE_FULL" },
          );
        }
        if (invite !== undefined && inviteProblem(invite, at) === undefined) {
          await trx
            .updateTable("circle_invite")
            .set((eb) => ({ uses: eb("uses", "+", 1) }))
            .where("id", "=", invite.id)
            .execute();
        }
        return addMember(deps, trx, {
          circleId: req.circleId,
          userId: caller.userId,
          role: "member",
          at,
        });
      },
      { idempotent: true },
    );
    return { circle: toCircle(circle), member: toMember(member) };
  };
}
