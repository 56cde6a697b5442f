import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  identityEvents,
  identityStream,
  moderationEvents,
  moderationStream,
} from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import type { Transaction } from "kysely";
import type { NotifierDatabase } from "../db/schema.ts";
import { removeDevices } from "../devices.ts";
import { dropQueued, dropReasons, type QueueContext } from "../queue.ts";

type AccountRestricted = (typeof moderationEvents.accountRestricted)["schema"];
type UserDeleted = (typeof identityEvents.userDeleted)["schema"];

/**
 * Suspensions and bans (`moderation.account.restricted.v1`): every queued push to the user and
 * every one they caused (their responses, their alerts) is dropped, and new ones are dropped
 * while the restriction lasts (until `until`, or until lifted) — except moderation decisions to
 * the user, which are about the restriction itself. The decision with the later `decided_at`
 * wins; events of one user arrive in order on this one consumer anyway. SOS restrictions are
 * content's business and change nothing here.
 */
export const accountRestrictedConsumer = (ctx: QueueContext): ConsumerSpec<AccountRestricted> => ({
  name: "notifier-account-restricted",
  stream: moderationStream.name,
  event: moderationEvents.accountRestricted,
  async handle({ message: m, metadata }, handlerTrx) {
    const trx = handlerTrx as Transaction<NotifierDatabase>;
    const kind =
      m.kind === AccountRestrictionKind.SUSPENDED
        ? "suspended"
        : m.kind === AccountRestrictionKind.BANNED
          ? "banned"
          : m.kind === AccountRestrictionKind.LIFTED
            ? "lifted"
            : undefined;
    if (kind === undefined) return;
    const decidedAt = m.decidedAt === undefined ? metadata.occurredAt : timestampDate(m.decidedAt);
    const values = {
      kind,
      restricted_until: kind === "lifted" || m.until === undefined ? null : timestampDate(m.until),
      case_id: m.caseId === "" ? null : m.caseId,
      decided_at: decidedAt,
    } as const;
    const applied = await trx
      .insertInto("account_restriction")
      .values({ user_id: m.userId, ...values })
      .onConflict((oc) =>
        oc
          .column("user_id")
          .doUpdateSet(values)
          .where("account_restriction.decided_at", "<=", decidedAt),
      )
      .returning("kind")
      .executeTakeFirst();
    if (applied === undefined || kind === "lifted") return;
    await dropQueued(
      trx,
      (eb) =>
        eb.or([
          eb.and([
            eb("notification.user_id", "=", m.userId),
            eb("notification.kind", "<>", "moderation_decision"),
          ]),
          eb("notification.actor_id", "=", m.userId),
        ]),
      dropReasons.restricted,
      ctx,
    );
  },
});

/**
 * An account was deleted: its devices, preferences and quiet hours go, with every queued push
 * to or from it. The delivery log keeps ids only, and no text.
 */
export const userDeletedConsumer = (ctx: QueueContext): ConsumerSpec<UserDeleted> => ({
  name: "notifier-user-deleted",
  stream: identityStream.name,
  event: identityEvents.userDeleted,
  async handle({ message: m }, handlerTrx) {
    const trx = handlerTrx as Transaction<NotifierDatabase>;
    await dropQueued(
      trx,
      (eb) =>
        eb.or([
          eb("notification.user_id", "=", m.userId),
          eb("notification.actor_id", "=", m.userId),
        ]),
      dropReasons.accountDeleted,
      ctx,
    );
    const devices = await trx
      .selectFrom("device")
      .select("id")
      .where("user_id", "=", m.userId)
      .execute();
    await removeDevices(
      trx,
      devices.map((d) => d.id),
      dropReasons.accountDeleted,
      ctx.metrics,
    );
    await trx.deleteFrom("preference").where("user_id", "=", m.userId).execute();
    await trx.deleteFrom("quiet_hours").where("user_id", "=", m.userId).execute();
  },
});
