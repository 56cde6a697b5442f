import { circlesEvents, circlesStream } from "@kindred/event-catalog";
import type { ConsumerSpec, HandlerTransaction } from "@kindred/events";
import { CircleRole } from "@kindred/proto/circles/v1";
import type { Transaction } from "kysely";
import type { CircleRoleName, ModerationDatabase } from "../db/schema.ts";

type Schema<K extends keyof typeof circlesEvents> = (typeof circlesEvents)[K]["schema"];
type Trx = Transaction<ModerationDatabase>;

const roleName = (role: CircleRole): CircleRoleName =>
  role === CircleRole.OWNER ? "owner" : role === CircleRole.MODERATOR ? "moderator" : "member";

/**
 * Who holds which role in which circle (circle moderators work their circles' cases), and the
 * circles themselves as report targets. Events of one circle arrive on several subjects in any
 * order: each row keeps the circle version of the last change applied, and only a newer one
 * applies (as content's projection, ADR 11). Leaving keeps a tombstone.
 */
async function applyRole(
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
  await (trx as Trx)
    .insertInto("circle_role")
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
        .where("circle_role.circle_version", "<", (eb) => eb.ref("excluded.circle_version")),
    )
    .execute();
}

interface CircleFields {
  name?: string;
  description?: string;
  archived_at?: Date;
}

async function applyCircle(
  trx: HandlerTransaction,
  circleId: string,
  version: bigint,
  set: CircleFields,
) {
  await (trx as Trx)
    .insertInto("circle_info")
    .values({ circle_id: circleId, version: String(version), archived_at: null, ...set })
    .onConflict((oc) =>
      oc
        .column("circle_id")
        .doUpdateSet({ ...set, version: String(version) })
        .where("circle_info.version", "<", String(version)),
    )
    .execute();
}

const spec = <K extends keyof typeof circlesEvents>(
  key: K,
  handle: ConsumerSpec<Schema<K>>["handle"],
): ConsumerSpec<Schema<K>> => ({
  name: `moderation-circles-${circlesEvents[key].name.replace("circles.", "").replace(".", "-")}`,
  stream: circlesStream.name,
  event: circlesEvents[key],
  handle,
});

export const circleConsumers = [
  spec("circleCreated", (e, trx) =>
    applyCircle(trx, e.message.circleId, e.message.circleVersion, { name: e.message.name }),
  ),
  spec("circleUpdated", (e, trx) =>
    applyCircle(trx, e.message.circleId, e.message.circleVersion, {
      name: e.message.name,
      description: e.message.description,
    }),
  ),
  spec("circleArchived", (e, trx) =>
    applyCircle(trx, e.message.circleId, e.message.circleVersion, {
      archived_at: e.metadata.occurredAt,
    }),
  ),
  spec("memberJoined", (e, trx) =>
    applyRole(trx, {
      circleId: e.message.circleId,
      userId: e.message.userId,
      role: roleName(e.message.role),
      member: true,
      version: e.message.circleVersion,
      at: e.metadata.occurredAt,
    }),
  ),
  spec("memberRoleChanged", (e, trx) =>
    applyRole(trx, {
      circleId: e.message.circleId,
      userId: e.message.userId,
      role: roleName(e.message.role),
      member: true,
      version: e.message.circleVersion,
      at: e.metadata.occurredAt,
    }),
  ),
  spec("memberLeft", (e, trx) =>
    applyRole(trx, {
      circleId: e.message.circleId,
      userId: e.message.userId,
      role: "member",
      member: false,
      version: e.message.circleVersion,
      at: e.metadata.occurredAt,
    }),
  ),
  spec("memberRemoved", (e, trx) =>
    applyRole(trx, {
      circleId: e.message.circleId,
      userId: e.message.userId,
      role: "member",
      member: false,
      version: e.message.circleVersion,
      at: e.metadata.occurredAt,
    }),
  ),
] as const;
