import { timestampDate } from "@bufbuild/protobuf/wkt";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import type { Logger } from "@kindred/logging";
import { EscalationStage } from "@kindred/proto/content/v1";
import type { Transaction } from "kysely";
import type { CircleRoleName, NotifierDatabase } from "../db/schema.ts";
import { dropQueued, dropReasons, type QueueContext, queueNotifications } from "../queue.ts";

type Schema<K extends keyof typeof contentEvents> = (typeof contentEvents)[K]["schema"];
type Trx = Transaction<NotifierDatabase>;

/** Active members of a circle (optionally only some roles), from the membership projection. */
async function activeMembers(
  trx: Trx,
  circleId: string,
  roles?: readonly CircleRoleName[],
): Promise<string[]> {
  let query = trx
    .selectFrom("circle_member")
    .select("user_id")
    .where("circle_id", "=", circleId)
    .where("left_at", "is", null);
  if (roles !== undefined) query = query.where("role", "in", roles);
  return (await query.execute()).map((r) => r.user_id);
}

async function pushAlert(
  trx: Trx,
  alert: { alertId: string; circleId: string; raisedBy: string; eventId: string },
  recipients: readonly string[],
  ctx: QueueContext,
) {
  // Resolved before this event was handled (consumers of different subjects run apart).
  const resolved = await trx
    .selectFrom("sos_alert")
    .select("alert_id")
    .where("alert_id", "=", alert.alertId)
    .executeTakeFirst();
  if (resolved !== undefined) return;
  await queueNotifications(
    trx,
    {
      kind: "sos",
      eventId: alert.eventId,
      subjectKind: "sos",
      subjectId: alert.alertId,
      actorId: alert.raisedBy,
      circleId: alert.circleId,
    },
    recipients.filter((u) => u !== alert.raisedBy),
    ctx,
  );
}

/**
 * An SOS goes to every active member of the circle except the raiser, at high priority and
 * through quiet hours; blocks do not stop it (ADR 13: the alert reaches everyone, its words do
 * not — and a push carries no words anyway).
 */
export const sosRaisedConsumer = (ctx: QueueContext): ConsumerSpec<Schema<"sosRaised">> => ({
  name: "notifier-sos-raised",
  stream: contentStream.name,
  event: contentEvents.sosRaised,
  async handle({ message: m, metadata }, handlerTrx) {
    const trx = handlerTrx as Trx;
    await pushAlert(
      trx,
      { alertId: m.alertId, circleId: m.circleId, raisedBy: m.raisedBy, eventId: metadata.id },
      await activeMembers(trx, m.circleId),
      ctx,
    );
  },
});

/**
 * Re-escalation of an unanswered alert. The second wave goes to every active member except
 * the raiser again: the event does not say who acknowledged, and it does not need to — content
 * escalates only alerts nobody acknowledged (ADR 13), so "the members who have not
 * acknowledged" are all of them. The circle-moderators stage goes to the circle's owners and
 * moderators. The platform on-call stage is moderation's pager, not a push.
 */
export const sosEscalatedConsumer = (
  ctx: QueueContext,
  logger: Logger,
): ConsumerSpec<Schema<"sosEscalated">> => ({
  name: "notifier-sos-escalated",
  stream: contentStream.name,
  event: contentEvents.sosEscalated,
  async handle({ message: m, metadata }, handlerTrx) {
    const trx = handlerTrx as Trx;
    let recipients: string[];
    switch (m.stage) {
      case EscalationStage.SECOND_WAVE:
        recipients = await activeMembers(trx, m.circleId);
        break;
      case EscalationStage.CIRCLE_MODERATORS:
        recipients = await activeMembers(trx, m.circleId, ["owner", "moderator"]);
        break;
      case EscalationStage.PLATFORM_ON_CALL:
        return;
      default:
        logger.warn(
          { alertId: m.alertId, stage: m.stage },
          "SOS escalated to a stage notifier does not know; no push",
        );
        return;
    }
    await pushAlert(
      trx,
      { alertId: m.alertId, circleId: m.circleId, raisedBy: m.raisedBy, eventId: metadata.id },
      recipients,
      ctx,
    );
  },
});

/** A resolved alert needs nobody any more: its queued pushes are dropped, later waves too. */
export const sosResolvedConsumer = (ctx: QueueContext): ConsumerSpec<Schema<"sosResolved">> => ({
  name: "notifier-sos-resolved",
  stream: contentStream.name,
  event: contentEvents.sosResolved,
  async handle({ message: m, metadata }, handlerTrx) {
    const trx = handlerTrx as Trx;
    await trx
      .insertInto("sos_alert")
      .values({
        alert_id: m.alertId,
        resolved_at: m.resolvedAt === undefined ? metadata.occurredAt : timestampDate(m.resolvedAt),
      })
      .onConflict((oc) => oc.column("alert_id").doNothing())
      .execute();
    await dropQueued(
      trx,
      (eb) =>
        eb.and([
          eb("notification.subject_kind", "=", "sos"),
          eb("notification.subject_id", "=", m.alertId),
        ]),
      dropReasons.alertResolved,
      ctx,
    );
  },
});
