import { timestampDate } from "@bufbuild/protobuf/wkt";
import { identityEvents, identityStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import type { Transaction } from "kysely";
import type { ModerationDatabase } from "../db/schema.ts";

type Schema<K extends keyof typeof identityEvents> = (typeof identityEvents)[K]["schema"];

/**
 * Accounts as report targets and for the new-account rules, from identity's events. A deleted
 * account stays as a tombstone (its cases and decisions keep their ids), without its name.
 */
export const userRegisteredConsumer: ConsumerSpec<Schema<"userRegistered">> = {
  name: "moderation-user-registered",
  stream: identityStream.name,
  event: identityEvents.userRegistered,
  async handle(event, trx) {
    const m = event.message;
    await (trx as Transaction<ModerationDatabase>)
      .insertInto("account")
      .values({
        user_id: m.userId,
        display_name: m.displayName,
        created_at:
          m.createdAt === undefined ? event.metadata.occurredAt : timestampDate(m.createdAt),
        deleted_at: null,
      })
      .onConflict((oc) => oc.column("user_id").doNothing())
      .execute();
  },
};

export const userDeletedConsumer: ConsumerSpec<Schema<"userDeleted">> = {
  name: "moderation-user-deleted",
  stream: identityStream.name,
  event: identityEvents.userDeleted,
  async handle(event, trx) {
    const m = event.message;
    const deletedAt =
      m.deletedAt === undefined ? event.metadata.occurredAt : timestampDate(m.deletedAt);
    await (trx as Transaction<ModerationDatabase>)
      .insertInto("account")
      .values({ user_id: m.userId, display_name: "", created_at: null, deleted_at: deletedAt })
      .onConflict((oc) =>
        oc.column("user_id").doUpdateSet({ display_name: "", deleted_at: deletedAt }),
      )
      .execute();
  },
};
