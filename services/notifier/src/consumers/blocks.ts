import { timestampDate } from "@bufbuild/protobuf/wkt";
import { identityEvents, identityStream } from "@kindred/event-catalog";
import type { ConsumerSpec, HandlerTransaction } from "@kindred/events";
import type { Transaction } from "kysely";
import type { NotifierDatabase } from "../db/schema.ts";
import { dropQueued, dropReasons, type QueueContext } from "../queue.ts";

type Schema<K extends keyof typeof identityEvents> = (typeof identityEvents)[K]["schema"];

/**
 * Blocks between users (`block`). Identity's block and unblock events carry no version and
 * arrive on two subjects, so in any order: the later event time wins, an unblock keeps its row
 * (`blocked = false`) so a late older block cannot return, and on a tie the block wins (as
 * content's projection, ADR 11). A block also drops every queued push between the two, in
 * either direction, except SOS (ADR 13: the alert reaches everyone).
 */
async function applyBlock(
  trx: HandlerTransaction,
  change: { blockerId: string; blockedId: string; blocked: boolean; at: Date },
  ctx: QueueContext,
) {
  const db = trx as Transaction<NotifierDatabase>;
  const applied = await db
    .insertInto("block")
    .values({
      blocker_id: change.blockerId,
      blocked_id: change.blockedId,
      blocked: change.blocked,
      changed_at: change.at,
    })
    .onConflict((oc) =>
      oc
        .columns(["blocker_id", "blocked_id"])
        .doUpdateSet((eb) => ({
          blocked: eb.ref("excluded.blocked"),
          changed_at: eb.ref("excluded.changed_at"),
        }))
        .where((eb) =>
          eb.or([
            eb("block.changed_at", "<", eb.ref("excluded.changed_at")),
            eb.and([
              eb("block.changed_at", "=", eb.ref("excluded.changed_at")),
              eb("excluded.blocked", "=", true),
            ]),
          ]),
        ),
    )
    .returning("blocked")
    .executeTakeFirst();
  if (applied?.blocked !== true) return;
  const { blockerId: a, blockedId: b } = change;
  await dropQueued(
    db,
    (eb) =>
      eb.and([
        eb("notification.kind", "<>", "sos"),
        eb.or([
          eb.and([eb("notification.user_id", "=", a), eb("notification.actor_id", "=", b)]),
          eb.and([eb("notification.user_id", "=", b), eb("notification.actor_id", "=", a)]),
        ]),
      ]),
    dropReasons.blocked,
    ctx,
  );
}

export const blockConsumers = (
  ctx: QueueContext,
): [ConsumerSpec<Schema<"userBlocked">>, ConsumerSpec<Schema<"userUnblocked">>] => [
  {
    name: "notifier-user-blocked",
    stream: identityStream.name,
    event: identityEvents.userBlocked,
    handle: ({ message: m, metadata }, trx) =>
      applyBlock(
        trx,
        {
          blockerId: m.blockerId,
          blockedId: m.blockedId,
          blocked: true,
          at: m.blockedAt === undefined ? metadata.occurredAt : timestampDate(m.blockedAt),
        },
        ctx,
      ),
  },
  {
    name: "notifier-user-unblocked",
    stream: identityStream.name,
    event: identityEvents.userUnblocked,
    handle: ({ message: m, metadata }, trx) =>
      applyBlock(
        trx,
        {
          blockerId: m.blockerId,
          blockedId: m.blockedId,
          blocked: false,
          at: m.unblockedAt === undefined ? metadata.occurredAt : timestampDate(m.unblockedAt),
        },
        ctx,
      ),
  },
];
