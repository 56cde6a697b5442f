import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import { type CaseTarget, DecisionAction, TargetKind } from "@kindred/proto/moderation/events/v1";
import type { Transaction } from "kysely";
import type { NotifierDatabase } from "../db/schema.ts";
import { dropQueued, dropReasons, type QueueContext, queueNotifications } from "../queue.ts";

type Schema<K extends keyof typeof moderationEvents> = (typeof moderationEvents)[K]["schema"];
type Trx = Transaction<NotifierDatabase>;

async function tellAffectedUser(
  trx: Trx,
  decision: { decisionId: string; affectedUserId: string; target?: CaseTarget | undefined },
  eventId: string,
  ctx: QueueContext,
) {
  if (decision.affectedUserId === "") return; // a case about a circle affects no one user
  const circleId = decision.target?.circleId ?? "";
  await queueNotifications(
    trx,
    {
      kind: "moderation_decision",
      eventId,
      subjectKind: "decision",
      subjectId: decision.decisionId,
      ...(circleId === "" ? {} : { circleId }),
    },
    [decision.affectedUserId],
    ctx,
  );
}

/**
 * A moderation decision tells the affected user (the moderator's note never travels in the
 * push; the app shows it after unlock), except a dismissal: telling them would tell them they
 * were reported. A removal also drops every queued push about the removed content, without
 * waiting for content's own removal event.
 */
export const decisionMadeConsumer = (ctx: QueueContext): ConsumerSpec<Schema<"decisionMade">> => ({
  name: "notifier-decision-made",
  stream: moderationStream.name,
  event: moderationEvents.decisionMade,
  async handle({ message: m, metadata }, handlerTrx) {
    const trx = handlerTrx as Trx;
    if (m.action === DecisionAction.DISMISS || m.action === DecisionAction.UNSPECIFIED) return;
    const target = m.target;
    if (m.action === DecisionAction.REMOVE_CONTENT && target !== undefined && target.id !== "") {
      if (target.kind === TargetKind.POST) {
        await dropQueued(
          trx,
          (eb) => eb("notification.post_id", "=", target.id),
          dropReasons.contentRemoved,
          ctx,
        );
      } else if (target.kind === TargetKind.RESPONSE) {
        await dropQueued(
          trx,
          (eb) =>
            eb.and([
              eb("notification.subject_kind", "=", "response"),
              eb("notification.subject_id", "=", target.id),
            ]),
          dropReasons.contentRemoved,
          ctx,
        );
      }
    }
    await tellAffectedUser(trx, { ...m, target }, metadata.id, ctx);
  },
});

/** An appeal that overturned a decision is its outcome: the affected user is told as well. */
export const decisionReversedConsumer = (
  ctx: QueueContext,
): ConsumerSpec<Schema<"decisionReversed">> => ({
  name: "notifier-decision-reversed",
  stream: moderationStream.name,
  event: moderationEvents.decisionReversed,
  async handle({ message: m, metadata }, trx) {
    if (m.action === DecisionAction.DISMISS) return;
    await tellAffectedUser(trx as Trx, m, metadata.id, ctx);
  },
});
