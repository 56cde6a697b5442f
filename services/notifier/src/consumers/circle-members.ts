import { timestampDate } from "@bufbuild/protobuf/wkt";
import { circlesEvents, circlesStream } from "@kindred/event-catalog";
import type { ConsumerSpec, HandlerTransaction } from "@kindred/events";
import { CircleRole } from "@kindred/proto/circles/v1";
import type { Transaction } from "kysely";
import type { CircleRoleName, NotifierDatabase } from "../db/schema.ts";

type Schema<K extends keyof typeof circlesEvents> = (typeof circlesEvents)[K]["schema"];

/**
 * Who is in which circle with which role: SOS pushes go to a circle's active members, its
 * escalation to the owners and moderators. One durable consumer per event type (NATS 2.9), so
 * one circle's events arrive in any order: each row keeps the circle version of the last change
 * applied to that member and only a newer one applies; leaving keeps the row as a tombstone
 * (`left_at`), so a late older join cannot bring a member back (as content's projection,
 * ADR 11).
 */
async function applyMember(
  trx: HandlerTransaction,
  change: {
    circleId: string;
    userId: string;
    role: CircleRoleName;
    member: boolean;
    version: bigint;
    at: Date;
  },
) {
  await (trx as Transaction<NotifierDatabase>)
    .insertInto("circle_member")
    .values({
      circle_id: change.circleId,
      user_id: change.userId,
      role: change.role,
      circle_version: String(change.version),
      left_at: change.member ? null : change.at,
    })
    .onConflict((oc) =>
      oc
        .columns(["circle_id", "user_id"])
        .doUpdateSet((eb) => ({
          role: eb.ref("excluded.role"),
          circle_version: eb.ref("excluded.circle_version"),
          left_at: eb.ref("excluded.left_at"),
        }))
        .where("circle_member.circle_version", "<", (eb) => eb.ref("excluded.circle_version")),
    )
    .execute();
}

const roleName = (role: CircleRole): CircleRoleName =>
  role === CircleRole.OWNER ? "owner" : role === CircleRole.MODERATOR ? "moderator" : "member";

const when = (t: Parameters<typeof timestampDate>[0] | undefined, fallback: Date) =>
  t === undefined ? fallback : timestampDate(t);

const spec = <K extends keyof typeof circlesEvents>(
  key: K,
  name: string,
  handle: ConsumerSpec<Schema<K>>["handle"],
): ConsumerSpec<Schema<K>> => ({
  name: `notifier-${name}`,
  stream: circlesStream.name,
  event: circlesEvents[key],
  handle,
});

export const circleMemberConsumers = [
  // The creator is the first member and owner (circles also announces the join).
  spec("circleCreated", "circle-created", ({ message: m, metadata }, trx) =>
    applyMember(trx, {
      circleId: m.circleId,
      userId: m.ownerId,
      role: "owner",
      member: true,
      version: m.circleVersion,
      at: when(m.createdAt, metadata.occurredAt),
    }),
  ),
  spec("memberJoined", "member-joined", ({ message: m, metadata }, trx) =>
    applyMember(trx, {
      circleId: m.circleId,
      userId: m.userId,
      role: roleName(m.role),
      member: true,
      version: m.circleVersion,
      at: when(m.joinedAt, metadata.occurredAt),
    }),
  ),
  // A role change implies membership at its version (it may arrive before the join).
  spec("memberRoleChanged", "member-role-changed", ({ message: m, metadata }, trx) =>
    applyMember(trx, {
      circleId: m.circleId,
      userId: m.userId,
      role: roleName(m.role),
      member: true,
      version: m.circleVersion,
      at: metadata.occurredAt,
    }),
  ),
  spec("memberLeft", "member-left", ({ message: m, metadata }, trx) =>
    applyMember(trx, {
      circleId: m.circleId,
      userId: m.userId,
      role: "member",
      member: false,
      version: m.circleVersion,
      at: when(m.leftAt, metadata.occurredAt),
    }),
  ),
  spec("memberRemoved", "member-removed", ({ message: m, metadata }, trx) =>
    applyMember(trx, {
      circleId: m.circleId,
      userId: m.userId,
      role: "member",
      member: false,
      version: m.circleVersion,
      at: when(m.removedAt, metadata.occurredAt),
    }),
  ),
] as const;
