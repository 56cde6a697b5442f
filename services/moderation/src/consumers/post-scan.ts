import { contentEvents } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import type { Transaction } from "kysely";
import type { ModerationDatabase } from "../db/schema.ts";

type PostCreated = (typeof contentEvents.postCreated)["schema"];

/**
 * Every new post is queued for the rules pipeline (issue 6 scans it right after it becomes
 * visible). The inbox makes a redelivery a no-op.
 */
export const postScanConsumer: ConsumerSpec<PostCreated> = {
  name: "moderation-post-scan",
  stream: "CONTENT",
  event: contentEvents.postCreated,
  async handle(event, trx) {
    const { message } = event;
    await (trx as Transaction<ModerationDatabase>)
      .insertInto("scan_item")
      .values({
        event_id: event.metadata.id,
        content_kind: "post",
        content_id: message.postId,
        circle_id: message.circleId,
        author_id: message.authorId,
        body: message.body,
      })
      .execute();
  },
};
