import { timestampDate } from "@bufbuild/protobuf/wkt";
import { circlesEvents, circlesStream } from "@kindred/event-catalog";
import type { ConsumerSpec, HandlerTransaction } from "@kindred/events";
import { CircleRole } from "@kindred/proto/circles/v1";
import { sql, type Transaction } from "kysely";
import type { CircleRoleName, ContentDatabase } from "../db/schema.ts";
import type { FeedCache } from "../feed-cache.ts";

/** What the projection consumers need besides their transaction. */
export interface ProjectionDeps {
  /** Feed pages that a change makes stale are invalidated after the inbox transaction commits. */
  feedCache: FeedCache;
}

/**
 * The membership projection (`circle_member`): one durable consumer per member event type
 * (NATS 2.9: one filter subject per consumer). Events of one circle arrive on four subjects, so
 * in any order: each row keeps the `circle_version` of the last event applied to that member,
 * and an event applies only when its version is newer. Leaving or removal keeps the row with
 * `left_at` set (a tombstone), so an older join delivered late cannot bring the member back.
 * Redelivery is a no-op twice over (inbox, version). After commit, the feed pages of the circle
 * and of the member are invalidated.
 */
export interface MemberChange {
  circleId: string;
  userId: string;
  role: CircleRoleName;
  /** `false` for a leave or a removal. */
  member: boolean;
  circleVersion: bigint;
  at: Date;
}

export async function applyMemberChange(
  trx: HandlerTransaction,
  change: MemberChange,
  { feedCache }: ProjectionDeps,
) {
  const db = trx as Transaction<ContentDatabase>;
  await markCircleKnown(db, change.circleId);
  await db
    .insertInto("circle_member")
    .values({
      circle_id: change.circleId,
      user_id: change.userId,
      role: change.role,
      circle_version: String(change.circleVersion),
      left_at: change.member ? null : change.at,
    })
    .onConflict((oc) =>
      oc
        .columns(["circle_id", "user_id"])
        .doUpdateSet((eb) => ({
          role: eb.ref("excluded.role"),
          circle_version: eb.ref("excluded.circle_version"),
          left_at: eb.ref("excluded.left_at"),
          updated_at: sql<Date>`now()`,
        }))
        .where("circle_member.circle_version", "<", (eb) => eb.ref("excluded.circle_version")),
    )
    .execute();
  feedCache.afterCommit(db, { circles: [change.circleId], users: [change.userId] });
}

/** Records that a circle exists (member events may arrive before the circle's own). */
export async function markCircleKnown(db: Transaction<ContentDatabase>, circleId: string) {
  await db
    .insertInto("circle_state")
    .values({ circle_id: circleId, version: "0", archived_at: null })
    .onConflict((oc) => oc.column("circle_id").doNothing())
    .execute();
}

export function roleName(role: CircleRole): CircleRoleName {
  if (role === CircleRole.OWNER) return "owner";
  if (role === CircleRole.MODERATOR) return "moderator";
  return "member";
}

const when = (t: Parameters<typeof timestampDate>[0] | undefined, fallback: Date) =>
  t === undefined ? fallback : timestampDate(t);

export const memberJoinedConsumer = (
  deps: ProjectionDeps,
): ConsumerSpec<(typeof circlesEvents.memberJoined)["schema"]> => ({
  name: "content-member-joined",
  stream: circlesStream.name,
  event: circlesEvents.memberJoined,
  handle: ({ message: m, metadata }, trx) =>
    applyMemberChange(
      trx,
      {
        circleId: m.circleId,
        userId: m.userId,
        role: roleName(m.role),
        member: true,
        circleVersion: m.circleVersion,
        at: when(m.joinedAt, metadata.occurredAt),
      },
      deps,
    ),
});

export const memberLeftConsumer = (
  deps: ProjectionDeps,
): ConsumerSpec<(typeof circlesEvents.memberLeft)["schema"]> => ({
  name: "content-member-left",
  stream: circlesStream.name,
  event: circlesEvents.memberLeft,
  handle: ({ message: m, metadata }, trx) =>
    applyMemberChange(
      trx,
      {
        circleId: m.circleId,
        userId: m.userId,
        role: "member",
        member: false,
        circleVersion: m.circleVersion,
        at: when(m.leftAt, metadata.occurredAt),
      },
      deps,
    ),
});

export const memberRemovedConsumer = (
  deps: ProjectionDeps,
): ConsumerSpec<(typeof circlesEvents.memberRemoved)["schema"]> => ({
  name: "content-member-removed",
  stream: circlesStream.name,
  event: circlesEvents.memberRemoved,
  handle: ({ message: m, metadata }, trx) =>
    applyMemberChange(
      trx,
      {
        circleId: m.circleId,
        userId: m.userId,
        role: "member",
        member: false,
        circleVersion: m.circleVersion,
        at: when(m.removedAt, metadata.occurredAt),
      },
      deps,
    ),
});

/** A role change implies membership at that version (it may arrive before the join). */
export const memberRoleChangedConsumer = (
  deps: ProjectionDeps,
): ConsumerSpec<(typeof circlesEvents.memberRoleChanged)["schema"]> => ({
  name: "content-member-role-changed",
  stream: circlesStream.name,
  event: circlesEvents.memberRoleChanged,
  handle: ({ message: m, metadata }, trx) =>
    applyMemberChange(
      trx,
      {
        circleId: m.circleId,
        userId: m.userId,
        role: roleName(m.role),
        member: true,
        circleVersion: m.circleVersion,
        at: metadata.occurredAt,
      },
      deps,
    ),
});
