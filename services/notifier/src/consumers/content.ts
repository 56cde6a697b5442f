import { contentEvents, contentStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import type { Transaction } from "kysely";
import type { NotifierDatabase } from "../db/schema.ts";
import { dropQueued, dropReasons, type QueueContext, queueNotifications } from "../queue.ts";

type Schema<K extends keyof typeof contentEvents> = (typeof contentEvents)[K]["schema"];
type Trx = Transaction<NotifierDatabase>;

/**
 * A response tells the post's author (not the responder themself), unless either blocked the
 * other, the author turned responses off, or an account is restricted — those are recorded as
 * dropped with the reason.
 */
export const responseCreatedConsumer = (
  ctx: QueueContext,
): ConsumerSpec<Schema<"responseCreated">> => ({
  name: "notifier-response-created",
  stream: contentStream.name,
  event: contentEvents.responseCreated,
  async handle({ message: m, metadata }, trx) {
    if (m.postAuthorId === "" || m.postAuthorId === m.authorId) return;
    await queueNotifications(
      trx as Trx,
      {
        kind: "response",
        eventId: metadata.id,
        subjectKind: "response",
        subjectId: m.responseId,
        postId: m.postId,
        actorId: m.authorId,
        circleId: m.circleId,
      },
      [m.postAuthorId],
      ctx,
    );
  },
});

/**
 * A removed post or response (for any reason, hidden for review included) takes its queued
 * pushes with it: a push about content nobody may read any more only leads to an error, and
 * it may be exactly what should not have been seen. A restored one does not bring them back.
 */
export const postRemovedConsumer = (ctx: QueueContext): ConsumerSpec<Schema<"postRemoved">> => ({
  name: "notifier-post-removed",
  stream: contentStream.name,
  event: contentEvents.postRemoved,
  async handle({ message: m }, trx) {
    await dropQueued(
      trx as Trx,
      (eb) => eb("notification.post_id", "=", m.postId),
      dropReasons.postRemoved,
      ctx,
    );
  },
});

export const responseRemovedConsumer = (
  ctx: QueueContext,
): ConsumerSpec<Schema<"responseRemoved">> => ({
  name: "notifier-response-removed",
  stream: contentStream.name,
  event: contentEvents.responseRemoved,
  async handle({ message: m }, trx) {
    await dropQueued(
      trx as Trx,
      (eb) =>
        eb.and([
          eb("notification.subject_kind", "=", "response"),
          eb("notification.subject_id", "=", m.responseId),
        ]),
      dropReasons.responseRemoved,
      ctx,
    );
  },
});
