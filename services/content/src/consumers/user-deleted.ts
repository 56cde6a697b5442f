import { identityEvents, identityStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import { sql, type Transaction } from "kysely";
import type { ContentDatabase } from "../db/schema.ts";

type UserDeleted = (typeof identityEvents.userDeleted)["schema"];

/**
 * A deleted account's posts go with it (`identity.user.deleted.v1`): each is removed from every
 * read and its text and content warning are erased at once, keeping only the row's ids and
 * times (so threads that point at it still resolve, as "removed"). Moderation keeps its own
 * snapshot of anything under review (issue 6). Redelivery is a no-op (inbox).
 */
export const userDeletedConsumer: ConsumerSpec<UserDeleted> = {
  name: "content-user-deleted",
  stream: identityStream.name,
  event: identityEvents.userDeleted,
  async handle(event, trx) {
    await (trx as Transaction<ContentDatabase>)
      .updateTable("post")
      .set({
        body: "",
        content_warning: null,
        deleted_at: sql<Date>`coalesce(deleted_at, now())`,
        updated_at: sql<Date>`now()`,
        version: sql<string>`version + 1`,
      })
      .where("author_id", "=", event.message.userId)
      .where((eb) => eb.or([eb("body", "!=", ""), eb("deleted_at", "is", null)]))
      .execute();
  },
};
