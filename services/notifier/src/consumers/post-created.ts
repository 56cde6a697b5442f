import { contentEvents } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import type { Transaction } from "kysely";
import type { NotifierDatabase } from "../db/schema.ts";

type PostCreated = (typeof contentEvents.postCreated)["schema"];

/**
 * Records that a new post does not become a push: circles see new posts in their feeds and
 * live, not on the lock screen (responses, SOS and moderation decisions are pushed, ADR 17).
 * The decision is kept per post so "why did I not get a notification" has an answer.
 */
export const postCreatedConsumer: ConsumerSpec<PostCreated> = {
  name: "notifier-post-created",
  stream: "CONTENT",
  event: contentEvents.postCreated,
  async handle(event, trx) {
    await (trx as Transaction<NotifierDatabase>)
      .insertInto("delivery_decision")
      .values({
        event_id: event.metadata.id,
        event_type: event.metadata.type,
        circle_id: event.message.circleId,
        subject_id: event.message.postId,
        decision: "skip",
        reason: "new posts are not pushed by default",
      })
      .execute();
  },
};
