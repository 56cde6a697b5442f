import { timestampDate } from "@bufbuild/protobuf/wkt";
import { identityEvents, identityStream } from "@kindred/event-catalog";
import type { ConsumerSpec, HandlerTransaction } from "@kindred/events";
import type { Transaction } from "kysely";
import type { ContentDatabase } from "../db/schema.ts";
import type { ProjectionDeps } from "./circle-members.ts";

/**
 * The block projection (`user_block`). Identity's block and unblock events carry no version and
 * arrive on two subjects (two consumers), so in any order: the change with the later event time
 * wins, an unblock keeps its row (`blocked = false`) so an older block delivered late cannot
 * come back, and on a tie the block wins (the safer state). After commit, both users' feed
 * pages are invalidated.
 */
async function applyBlock(
  trx: HandlerTransaction,
  change: { blockerId: string; blockedId: string; blocked: boolean; at: Date },
  { feedCache }: ProjectionDeps,
) {
  const db = trx as Transaction<ContentDatabase>;
  await db
    .insertInto("user_block")
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
            eb("user_block.changed_at", "<", eb.ref("excluded.changed_at")),
            eb.and([
              eb("user_block.changed_at", "=", eb.ref("excluded.changed_at")),
              eb("excluded.blocked", "=", true),
            ]),
          ]),
        ),
    )
    .execute();
  feedCache.afterCommit(db, { users: [change.blockerId, change.blockedId] });
}

export const userBlockedConsumer = (
  deps: ProjectionDeps,
): ConsumerSpec<(typeof identityEvents.userBlocked)["schema"]> => ({
  name: "content-user-blocked",
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
      deps,
    ),
});

export const userUnblockedConsumer = (
  deps: ProjectionDeps,
): ConsumerSpec<(typeof identityEvents.userUnblocked)["schema"]> => ({
  name: "content-user-unblocked",
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
      deps,
    ),
});
