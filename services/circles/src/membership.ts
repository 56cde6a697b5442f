import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Transaction } from "kysely";
import { type Actor, userOf } from "./actor.ts";
import { circleEvents, enqueueCircleEvent } from "./circle-events.ts";
import type { CircleRoleName, CirclesDatabase } from "./db/schema.ts";
import type { CirclesDeps } from "./deps.ts";
import { type CircleRow, type MemberRow, roleToProto } from "./mapping.ts";

type Trx = Transaction<CirclesDatabase>;

/**
 * Counts one change of the circle or its membership: the version goes up by one (and the
 * member count by `memberDelta`). Runs under the circle's row lock, in the change's transaction;
 * the new version is the `circle_version` of the change's event.
 */
export function bumpCircle(trx: Trx, circleId: string, at: Date, memberDelta = 0) {
  return trx
    .updateTable("circle")
    .set((eb) => ({
      version: eb("version", "+", "1"),
      member_count: eb("member_count", "+", memberDelta),
      updated_at: at,
    }))
    .where("id", "=", circleId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Adds a member (the caller of JoinCircle, or a circle's creator) with its event. */
export async function addMember(
  deps: Pick<CirclesDeps, "outbox" | "cache">,
  trx: Trx,
  member: { circleId: string; userId: string; role: CircleRoleName; at: Date },
): Promise<{ circle: CircleRow; member: MemberRow }> {
  const row = await trx
    .insertInto("circle_member")
    .values({
      circle_id: member.circleId,
      user_id: member.userId,
      role: member.role,
      joined_at: member.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const circle = await bumpCircle(trx, member.circleId, member.at, 1);
  deps.cache.invalidateOnCommit(trx, member.circleId, member.userId);
  await enqueueCircleEvent(
    deps.outbox,
    trx,
    circleEvents.memberJoined,
    {
      circleId: member.circleId,
      userId: member.userId,
      role: roleToProto(member.role),
      joinedAt: timestampFromDate(member.at),
      circleVersion: BigInt(circle.version),
    },
    { actor: { userId: member.userId }, circleId: member.circleId },
  );
  return { circle, member: row };
}

export type Departure =
  | { kind: "left" }
  | { kind: "removed"; ban?: { expiresAt: Date | null } | undefined };

/**
 * Ends a membership with its event: the member left, or was removed (possibly with a ban; by
 * circles itself when `actor` is the system, with `removed_by` empty). The invites they created
 * stop working, so a removed member's codes cannot let anyone in.
 */
export async function endMembership(
  deps: Pick<CirclesDeps, "outbox" | "cache">,
  trx: Trx,
  change: { actor: Actor; circleId: string; userId: string; at: Date; how: Departure },
): Promise<CircleRow> {
  const { actor, circleId, userId, at, how } = change;
  await trx
    .deleteFrom("circle_member")
    .where("circle_id", "=", circleId)
    .where("user_id", "=", userId)
    .execute();
  await trx
    .updateTable("circle_invite")
    .set({ revoked_at: at, revoked_by: userOf(actor) })
    .where("circle_id", "=", circleId)
    .where("created_by", "=", userId)
    .where("revoked_at", "is", null)
    .execute();
  const circle = await bumpCircle(trx, circleId, at, -1);
  deps.cache.invalidateOnCommit(trx, circleId, userId);
  const by = { actor, circleId };
  if (how.kind === "left") {
    await enqueueCircleEvent(
      deps.outbox,
      trx,
      circleEvents.memberLeft,
      { circleId, userId, leftAt: timestampFromDate(at), circleVersion: BigInt(circle.version) },
      by,
    );
  } else {
    const ban = how.ban;
    await enqueueCircleEvent(
      deps.outbox,
      trx,
      circleEvents.memberRemoved,
      {
        circleId,
        userId,
        removedBy: userOf(actor) ?? "",
        removedAt: timestampFromDate(at),
        ...(ban === undefined || ban.expiresAt === null
          ? {}
          : { bannedUntil: timestampFromDate(ban.expiresAt) }),
        bannedPermanently: ban !== undefined && ban.expiresAt === null,
        circleVersion: BigInt(circle.version),
      },
      by,
    );
  }
  return circle;
}

/**
 * Gives a member another role with its event (`changed_by` empty when circles did it on its
 * own). The caller has checked that the role differs and that the circle keeps an owner.
 */
export async function changeRole(
  deps: Pick<CirclesDeps, "outbox" | "cache">,
  trx: Trx,
  change: { actor: Actor; circleId: string; userId: string; role: CircleRoleName; at: Date },
): Promise<MemberRow> {
  const { actor, circleId, userId, role, at } = change;
  const member = await trx
    .updateTable("circle_member")
    .set({ role })
    .where("circle_id", "=", circleId)
    .where("user_id", "=", userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  const circle = await bumpCircle(trx, circleId, at);
  deps.cache.invalidateOnCommit(trx, circleId);
  await enqueueCircleEvent(
    deps.outbox,
    trx,
    circleEvents.memberRoleChanged,
    {
      circleId,
      userId,
      role: roleToProto(role),
      changedBy: userOf(actor) ?? "",
      circleVersion: BigInt(circle.version),
    },
    { actor, circleId },
  );
  return member;
}

/**
 * Archives a circle for good with its event (`archived_by` empty when circles did it on its
 * own, because its last member went). The caller has checked that it is not archived yet.
 */
export async function archive(
  deps: Pick<CirclesDeps, "outbox" | "cache">,
  trx: Trx,
  change: { actor: Actor; circleId: string; at: Date },
): Promise<CircleRow> {
  const { actor, circleId, at } = change;
  const archived = await trx
    .updateTable("circle")
    .set((eb) => ({
      archived_at: at,
      archived_by: userOf(actor),
      version: eb("version", "+", "1"),
      updated_at: at,
    }))
    .where("id", "=", circleId)
    .returningAll()
    .executeTakeFirstOrThrow();
  deps.cache.invalidateOnCommit(trx, circleId);
  await enqueueCircleEvent(
    deps.outbox,
    trx,
    circleEvents.circleArchived,
    {
      circleId,
      archivedBy: userOf(actor) ?? "",
      archivedAt: timestampFromDate(at),
      circleVersion: BigInt(archived.version),
    },
    { actor, circleId },
  );
  return archived;
}
