import { sql, type Transaction } from "kysely";
import { countOwners, standingIn } from "./access.ts";
import type { Actor } from "./actor.ts";
import { type AuditEntry, recordAudit } from "./audit.ts";
import type { CircleRoleName, CirclesDatabase } from "./db/schema.ts";
import type { CirclesDeps } from "./deps.ts";
import { archive, changeRole, endMembership } from "./membership.ts";

type Trx = Transaction<CirclesDatabase>;
type Deps = Pick<CirclesDeps, "outbox" | "cache">;

/** Circles acting on its own, on another service's event (`system:<component>`). */
export type SystemActor = Extract<Actor, { system: string }>;

/** A user taken out of circles because of what happened to their account. */
export interface Withdrawal {
  actor: SystemActor;
  userId: string;
  /** The roles to take them out of; where they hold another role, they stay. */
  roles: readonly CircleRoleName[];
  at: Date;
  /** Facts every audit row of the withdrawal carries (the moderation case…). */
  details: Record<string, string>;
}

/**
 * Takes `userId` out of every circle where they hold one of `roles` (ADR 12, "Account deletion
 * and platform bans"). Circle by circle in id order, each under its row lock and in its version
 * chain: a sole owner hands over first (`heirOf`, a role change with its event), then the
 * removal (`MemberRemoved`, `removed_by` empty), then a circle left with nobody is archived. Each
 * step is audited. A user no longer in a circle changes nothing there, so a repeated event is
 * a no-op.
 *
 * Every circle of the user is locked, not only those acted on: a concurrent succession that
 * makes them owner either committed first (and the role read under the lock shows it) or runs
 * after this transaction (and then sees their ban). Locks are taken in circle id order, so two
 * withdrawals never wait on each other in a cycle.
 */
export async function withdraw(deps: Deps, trx: Trx, w: Withdrawal): Promise<void> {
  const memberships = await trx
    .selectFrom("circle_member")
    .select("circle_id")
    .where("user_id", "=", w.userId)
    .orderBy("circle_id")
    .execute();
  for (const { circle_id } of memberships) await withdrawFrom(deps, trx, w, circle_id);
}

async function withdrawFrom(deps: Deps, trx: Trx, w: Withdrawal, circleId: string) {
  const { actor, userId, at } = w;
  const s = await standingIn(trx, { userId, staff: false }, circleId, { lock: true });
  if (s?.role === undefined || !w.roles.includes(s.role)) return;
  const record = (entry: AuditEntry) =>
    recordAudit(
      trx,
      { actor, requestId: actor.correlationId },
      { ...entry, details: { ...w.details, ...entry.details } },
      at,
    );
  if (s.role === "owner" && (await countOwners(trx, circleId)) === 1) {
    const heir = await heirOf(trx, circleId, userId);
    if (heir !== undefined) {
      await changeRole(deps, trx, { actor, circleId, userId: heir.user_id, role: "owner", at });
      await record({
        kind: "member_role_changed",
        circleId,
        userId: heir.user_id,
        details: { from: heir.role, to: "owner", succeeds: userId },
      });
    }
  }
  const circle = await endMembership(deps, trx, {
    actor,
    circleId,
    userId,
    at,
    how: { kind: "removed" },
  });
  await record({ kind: "member_removed", circleId, userId, details: { role: s.role } });
  if (circle.member_count === 0 && circle.archived_at === null) {
    await archive(deps, trx, { actor, circleId, at });
    await record({ kind: "circle_archived", circleId, details: { why: "no members left" } });
  }
}

/**
 * Who becomes owner when the sole owner goes: the longest-standing moderator, else the
 * longest-standing member ("longest-standing": earliest `joined_at`; circles does not record when
 * a role was given). People banned from the platform come last: chosen only when nobody else is
 * left, so a circle with members keeps an owner (who cannot sign in while banned).
 */
function heirOf(trx: Trx, circleId: string, leaving: string) {
  return trx
    .selectFrom("circle_member as m")
    .leftJoin("account_ban as b", (join) =>
      join.onRef("b.user_id", "=", "m.user_id").on("b.banned", "=", true),
    )
    .select(["m.user_id", "m.role"])
    .where("m.circle_id", "=", circleId)
    .where("m.user_id", "!=", leaving)
    .orderBy(sql`b.user_id is not null`)
    .orderBy("m.role_rank")
    .orderBy("m.joined_at")
    .orderBy("m.user_id")
    .limit(1)
    .executeTakeFirst();
}

/**
 * Revokes every invite `userId` created that still could be used, in any circle (platform staff
 * may invite to circles they do not belong to), each audited. Invites are not circle changes: no
 * version, no event.
 */
export async function revokeInvitesOf(trx: Trx, w: Omit<Withdrawal, "roles">): Promise<void> {
  const revoked = await trx
    .updateTable("circle_invite")
    .set({ revoked_at: w.at, revoked_by: null })
    .where("created_by", "=", w.userId)
    .where("revoked_at", "is", null)
    .returning(["id", "circle_id"])
    .execute();
  for (const invite of revoked) {
    await recordAudit(
      trx,
      { actor: w.actor, requestId: w.actor.correlationId },
      {
        kind: "invite_revoked",
        circleId: invite.circle_id,
        details: { ...w.details, invite: invite.id },
      },
      w.at,
    );
  }
}
