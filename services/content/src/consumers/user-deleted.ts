import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { contentEvents, identityEvents, identityStream } from "@kindred/event-catalog";
import type { ConsumerSpec, Outbox } from "@kindred/events";
import { RemovalReason } from "@kindred/proto/content/events/v1";
import { type SqlBool, sql, type Transaction } from "kysely";
import type { ContentDatabase } from "../db/schema.ts";
import { enqueuePostRemoved, enqueueResponseRemoved } from "../removal.ts";
import type { ProjectionDeps } from "./circle-members.ts";

type UserDeleted = (typeof identityEvents.userDeleted)["schema"];

const actorId = "system:account-deletion";

/** Whether the row (table `post` or `response`) is under evidence hold (an open case). */
const heldPost = sql<SqlBool>`exists (select 1 from evidence_hold h
  where h.content_kind = 'post' and h.content_id = post.id)`;
const heldResponse = sql<SqlBool>`exists (select 1 from evidence_hold h
  where h.content_kind = 'response' and h.content_id = response.id)`;

/**
 * A deleted account's posts and responses go with it (`identity.user.deleted.v1`): each is
 * removed from every read and its text (and a post's content warning) erased at once, keeping
 * only the row's ids and times (so threads that point at it still resolve, as "removed").
 * Content under evidence hold (an open moderation case) is removed from reads but keeps its
 * text until the case closes; the expiry purge deletes it afterwards. Each newly removed item
 * gets its `content.post.removed.v1` / `content.response.removed.v1` (reason
 * `ACCOUNT_DELETED`). Content hidden for review is removed like the rest; content a moderation
 * decision removed stays removed for good (an appeal can no longer restore it, ADR 15). Their
 * SOS alerts lose their message, and those still open are resolved (`content.sos.resolved.v1`,
 * resolved by nobody): no one can answer them any more. The feed pages of every circle touched
 * are invalidated after commit. Redelivery is a no-op (inbox).
 */
export function userDeletedConsumer({
  outbox,
  feedCache,
}: { outbox: Outbox } & ProjectionDeps): ConsumerSpec<UserDeleted> {
  return {
    name: "content-user-deleted",
    stream: identityStream.name,
    event: identityEvents.userDeleted,
    async handle(event, untyped) {
      const trx = untyped as Transaction<ContentDatabase>;
      const { userId } = event.message;
      const announced = {
        removedBy: null,
        reason: RemovalReason.ACCOUNT_DELETED,
        actorId,
      };
      const removal = {
        deleted_at: sql<Date>`coalesce(deleted_at, now())`,
        removal_reason: sql<"account_deleted">`coalesce(removal_reason, 'account_deleted')`,
      };
      // Newly removed rows are those still live before this statement: `returning` sees the
      // new values, so read them first (the rows are locked by the update that follows).
      const livePosts = await trx
        .selectFrom("post")
        .select("id")
        .where("author_id", "=", userId)
        .where("deleted_at", "is", null)
        .forUpdate()
        .execute();
      const posts = await trx
        .updateTable("post")
        .set({
          ...removal,
          body: sql<string>`case when ${heldPost} then body else '' end`,
          content_warning: sql<string | null>`case when ${heldPost} then content_warning end`,
          updated_at: sql<Date>`now()`,
          version: sql<string>`version + 1`,
        })
        .where("author_id", "=", userId)
        .where((eb) =>
          eb.or([eb("deleted_at", "is", null), eb.and([eb("body", "!=", ""), eb.not(heldPost)])]),
        )
        .returningAll()
        .execute();
      const newlyRemoved = new Set(livePosts.map((p) => p.id));
      for (const post of posts.filter((p) => newlyRemoved.has(p.id))) {
        await enqueuePostRemoved(trx, outbox, post, {
          ...announced,
          removedAt: post.deleted_at ?? post.updated_at,
        });
      }

      const liveResponses = await trx
        .selectFrom("response")
        .innerJoin("post", "post.id", "response.post_id")
        .select(["response.id", "response.post_id", "post.circle_id"])
        .where("response.author_id", "=", userId)
        .where("response.deleted_at", "is", null)
        .forUpdate("response")
        .execute();
      const responses = await trx
        .updateTable("response")
        .set({ ...removal, body: sql<string>`case when ${heldResponse} then body else '' end` })
        .where("author_id", "=", userId)
        .where((eb) =>
          eb.or([
            eb("deleted_at", "is", null),
            eb.and([eb("body", "!=", ""), eb.not(heldResponse)]),
          ]),
        )
        .returning(["id", "deleted_at"])
        .execute();
      const removedAt = new Map(responses.map((r) => [r.id, r.deleted_at ?? new Date()]));
      for (const response of liveResponses) {
        await enqueueResponseRemoved(
          trx,
          outbox,
          { id: response.id, author_id: userId },
          { id: response.post_id, circle_id: response.circle_id },
          { ...announced, removedAt: removedAt.get(response.id) ?? new Date() },
        );
      }
      // Removed by a moderation decision before: now for good, whatever an appeal decides.
      for (const table of ["post", "response"] as const) {
        await trx
          .updateTable(table)
          .set({ removed_by_case: null })
          .where("author_id", "=", userId)
          .where("removed_by_case", "is not", null)
          .execute();
      }
      feedCache.afterCommit(trx, {
        circles: new Set([
          ...posts.map((p) => p.circle_id),
          ...liveResponses.map((r) => r.circle_id),
        ]),
      });

      await trx
        .updateTable("sos_alert")
        .set({ message: null })
        .where("raised_by", "=", userId)
        .where("message", "is not", null)
        .execute();
      const resolved = await trx
        .updateTable("sos_alert")
        .set({ status: "resolved", resolved_at: sql<Date>`now()` })
        .where("raised_by", "=", userId)
        .where("status", "!=", "resolved")
        .returningAll()
        .execute();
      for (const alert of resolved) {
        await outbox.enqueue(
          trx,
          contentEvents.sosResolved,
          {
            alertId: alert.id,
            circleId: alert.circle_id,
            raisedBy: alert.raised_by,
            resolvedBy: "",
            resolvedAt: timestampFromDate(alert.resolved_at ?? new Date()),
          },
          { actorId, aggregateId: alert.id },
        );
      }
    },
  };
}
