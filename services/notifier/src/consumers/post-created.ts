import { contentEvents } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import type { Transaction } from "kysely";
import type { NotifierDatabase } from "../db/schema.ts";

type PostCreated = (typeof contentEvents.postCreated)["schema"];

/**
 * Decides whether a new post becomes a push. Posts are not pushed by default (responses and
 * SOS are — issue 7 adds preferences and the push itself); the decision is recorded either
 * way, so "why did (not) I get a notification" has an answer.
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
