import { onCommit } from "@kindred/database";
import { newEventId } from "@kindred/events";
import {
  type Expression,
  type ExpressionBuilder,
  type SqlBool,
  sql,
  type Transaction,
} from "kysely";
import type { KindName, NotifierDatabase, SubjectKind } from "./db/schema.ts";
import type { NotifierMetrics } from "./metrics.ts";

export type Trx = Transaction<NotifierDatabase>;

/** What consumers need to queue and drop notifications. */
export interface QueueContext {
  metrics: NotifierMetrics;
  /** Wakes the dispatcher; called after the transaction that queued something commits. */
  wake: () => void;
}

/** One event that may become a push, before its recipients are known. */
export interface NotificationDraft {
  kind: KindName;
  eventId: string;
  /** What the push is about; the app fetches it after unlock. */
  subjectKind: SubjectKind;
  subjectId: string;
  /** The post a response is about: the notification goes when the post goes. */
  postId?: string;
  /** Who caused it (the responder, the raiser); drives blocks and restrictions. */
  actorId?: string;
  circleId?: string;
}

/** Why a notification was not queued; each is also a `notification.reason`. */
export const dropReasons = {
  restricted: "account restricted",
  actorRestricted: "sender's account restricted",
  blocked: "blocked",
  disabled: (kind: KindName) => `push disabled for ${kind}`,
  noDevice: "no registered device",
  deviceUnregistered: "device unregistered",
  deviceMoved: "device moved to another account",
  deviceReplaced: "device replaced by a newer one",
  accountDeleted: "account deleted",
  postRemoved: "post removed",
  responseRemoved: "response removed",
  contentRemoved: "content removed by moderation",
  alertResolved: "alert resolved",
} as const;

/**
 * Queues one notification per recipient, with one delivery per device of theirs, in the
 * consumer's inbox transaction; a recipient who may not or cannot get it gets a notification
 * `dropped` with the reason instead, so "why did I not get it" has an answer (ADR 17). A
 * recipient already notified about this event is skipped (`unique (event_id, user_id)`).
 *
 * Checked in this order: the recipient's account restriction (moderation decisions still go:
 * they are about the restriction), the actor's, a block between actor and recipient (never for
 * SOS, ADR 13), the recipient's preference for the kind, and their devices.
 */
export async function queueNotifications(
  trx: Trx,
  draft: NotificationDraft,
  recipients: Iterable<string>,
  ctx: QueueContext,
): Promise<{ queued: number; dropped: number }> {
  const users = [...new Set(recipients)];
  if (users.length === 0) return { queued: 0, dropped: 0 };
  const actor = draft.actorId;
  const restricted = new Set(
    (
      await trx
        .selectFrom("account_restriction")
        .select("user_id")
        .where("user_id", "in", actor === undefined ? users : [...users, actor])
        .where("kind", "in", ["suspended", "banned"])
        .where((eb) =>
          eb.or([
            eb("restricted_until", "is", null),
            eb("restricted_until", ">", sql<Date>`now()`),
          ]),
        )
        .execute()
    ).map((r) => r.user_id),
  );
  const blocked = new Set<string>();
  if (actor !== undefined && draft.kind !== "sos") {
    const rows = await trx
      .selectFrom("block")
      .select(["blocker_id", "blocked_id"])
      .where("blocked", "=", true)
      .where((eb) =>
        eb.or([
          eb.and([eb("blocker_id", "=", actor), eb("blocked_id", "in", users)]),
          eb.and([eb("blocked_id", "=", actor), eb("blocker_id", "in", users)]),
        ]),
      )
      .execute();
    for (const r of rows) blocked.add(r.blocker_id === actor ? r.blocked_id : r.blocker_id);
  }
  const disabled = new Set(
    (
      await trx
        .selectFrom("preference")
        .select("user_id")
        .where("user_id", "in", users)
        .where("kind", "=", draft.kind)
        .where("push_enabled", "=", false)
        .execute()
    ).map((r) => r.user_id),
  );
  const devices = new Map<string, string[]>();
  for (const d of await trx
    .selectFrom("device")
    .select(["id", "user_id"])
    .where("user_id", "in", users)
    .orderBy("created_at")
    .execute()) {
    devices.set(d.user_id, [...(devices.get(d.user_id) ?? []), d.id]);
  }

  const reasonFor = (user: string): string | null => {
    if (restricted.has(user) && draft.kind !== "moderation_decision") return dropReasons.restricted;
    if (actor !== undefined && restricted.has(actor)) return dropReasons.actorRestricted;
    if (blocked.has(user)) return dropReasons.blocked;
    if (disabled.has(user)) return dropReasons.disabled(draft.kind);
    if ((devices.get(user) ?? []).length === 0) return dropReasons.noDevice;
    return null;
  };
  const inserted = await trx
    .insertInto("notification")
    .values(
      users.map((user) => {
        const reason = reasonFor(user);
        return {
          id: newEventId(),
          user_id: user,
          kind: draft.kind,
          event_id: draft.eventId,
          subject_kind: draft.subjectKind,
          subject_id: draft.subjectId,
          post_id: draft.postId ?? null,
          actor_id: actor ?? null,
          circle_id: draft.circleId ?? null,
          status: reason === null ? ("queued" as const) : ("dropped" as const),
          reason,
        };
      }),
    )
    .onConflict((oc) => oc.columns(["event_id", "user_id"]).doNothing())
    .returning(["id", "user_id", "status"])
    .execute();
  const deliveries = inserted
    .filter((n) => n.status === "queued")
    .flatMap((n) =>
      (devices.get(n.user_id) ?? []).map((device) => ({
        id: newEventId(),
        notification_id: n.id,
        device_id: device,
      })),
    );
  if (deliveries.length > 0) {
    await trx
      .insertInto("delivery")
      .values(deliveries)
      .onConflict((oc) => oc.columns(["notification_id", "device_id"]).doNothing())
      .execute();
  }
  const dropped = inserted.filter((n) => n.status === "dropped").length;
  onCommit(trx, () => {
    ctx.metrics.delivery(draft.kind, "dropped", dropped);
    if (deliveries.length > 0) ctx.wake();
  });
  return { queued: deliveries.length, dropped };
}

type DeliveryScope = ExpressionBuilder<NotifierDatabase, "delivery" | "notification">;

/**
 * Drops every queued delivery that `where` selects (it sees `delivery` and its `notification`)
 * with `reason`, and brings their notifications' status up to date. A delivery the dispatcher
 * is sending at this moment is dropped too, but its push may already be on its way.
 */
export async function dropQueued(
  trx: Trx,
  where: (eb: DeliveryScope) => Expression<SqlBool>,
  reason: string,
  { metrics }: Pick<QueueContext, "metrics">,
): Promise<number> {
  const rows = await trx
    .updateTable("delivery")
    .from("notification")
    .set({ status: "dropped", reason, lease_until: null, updated_at: sql<Date>`now()` })
    .whereRef("notification.id", "=", "delivery.notification_id")
    .where("delivery.status", "=", "queued")
    .where(where)
    .returning(["delivery.notification_id", "notification.kind"])
    .execute();
  if (rows.length === 0) return 0;
  await settleNotifications(trx, [...new Set(rows.map((r) => r.notification_id))]);
  onCommit(trx, () => {
    for (const r of rows) metrics.delivery(r.kind, "dropped");
  });
  return rows.length;
}

/**
 * A notification's status follows its deliveries: sent when any was sent, queued while any is
 * queued, else failed when any failed, else dropped; the reason is that of a failed (or
 * dropped) delivery, and none once it was sent.
 */
export async function settleNotifications(trx: Trx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    update notification n set status = s.status, reason = s.reason, updated_at = now()
    from (
      select notification_id,
        case when bool_or(status = 'sent') then 'sent'
             when bool_or(status = 'queued') then 'queued'
             when bool_or(status = 'failed') then 'failed'
             else 'dropped' end as status,
        case when bool_or(status in ('sent', 'queued')) then null
             when bool_or(status = 'failed') then min(reason) filter (where status = 'failed')
             else min(reason) filter (where status = 'dropped') end as reason
      from delivery
      where notification_id = any(${ids}::uuid[])
      group by notification_id
    ) s
    where n.id = s.notification_id
      and (n.status is distinct from s.status or n.reason is distinct from s.reason)`.execute(trx);
}
