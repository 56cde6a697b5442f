import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { contentEvents } from "@kindred/event-catalog";
import type { Outbox } from "@kindred/events";
import type { RemovalReason } from "@kindred/proto/content/events/v1";
import { type Expression, type SqlBool, sql, type Transaction } from "kysely";
import type { ContentDatabase, RemovalReasonName } from "./db/schema.ts";
import type { FeedCache } from "./feed-cache.ts";
import { type PostRow, type ResponseRow, removalReasonOf } from "./rpc/post-mapping.ts";

/**
 * What taking a post or response out of reads (or bringing it back) writes besides its row:
 * its event in the outbox, and its circle's feed pages invalidated after commit.
 */
export interface VisibilityDeps {
  outbox: Outbox;
  feedCache: FeedCache;
}

type Trx = Transaction<ContentDatabase>;

/** The post a response belongs to, as its events name it. */
export interface ParentPost {
  id: string;
  circle_id: string;
}

export interface Removal {
  /** Who removed it (a user id); `null` when the system did (the event says `""`). */
  removedBy: string | null;
  reason: RemovalReasonName;
  /** The event's actor. */
  actorId: string;
  /** The moderation case whose decision removed it: only a reversal of it restores the row. */
  caseId?: string;
}

/** Why a removal event was written; `HELD_FOR_REVIEW` is not a stored reason (ADR 15). */
interface Announced {
  removedBy: string | null;
  reason: RemovalReason;
  actorId: string;
  removedAt: Date;
}

const notRemoved = sql<SqlBool>`deleted_at is null`;

/**
 * Soft-removes a post (`only`: a filter of the row, by default "not removed yet"), bumps its
 * version and writes `content.post.removed.v1`; its circle's feed pages are invalidated after
 * commit. `updated_at` stays: it is when the text last changed (`Post.updated_at`), so a post
 * that an appeal restores does not look edited. `undefined`: nothing matched, nothing written.
 */
export async function removePost(
  trx: Trx,
  deps: VisibilityDeps,
  postId: string,
  removal: Removal,
  only: Expression<SqlBool> = notRemoved,
): Promise<PostRow | undefined> {
  const post = await trx
    .updateTable("post")
    .set({
      deleted_at: sql<Date>`now()`,
      version: sql<string>`version + 1`,
      removed_by: removal.removedBy,
      removal_reason: removal.reason,
      removed_by_case: removal.caseId ?? null,
    })
    .where("id", "=", postId)
    .where(only)
    .returningAll()
    .executeTakeFirst();
  if (post === undefined) return undefined;
  await enqueuePostRemoved(trx, deps.outbox, post, {
    ...removal,
    reason: removalReasonOf(removal.reason),
    removedAt: post.deleted_at ?? new Date(),
  });
  deps.feedCache.afterCommit(trx, { circles: [post.circle_id] });
  return post;
}

/** `removePost` for a response of `post` (no version of its own: the post's stays). */
export async function removeResponse(
  trx: Trx,
  deps: VisibilityDeps,
  responseId: string,
  post: ParentPost,
  removal: Removal,
): Promise<ResponseRow | undefined> {
  const response = await trx
    .updateTable("response")
    .set({
      deleted_at: sql<Date>`now()`,
      removed_by: removal.removedBy,
      removal_reason: removal.reason,
      removed_by_case: removal.caseId ?? null,
    })
    .where("id", "=", responseId)
    .where(notRemoved)
    .returningAll()
    .executeTakeFirst();
  if (response === undefined) return undefined;
  await enqueueResponseRemoved(trx, deps.outbox, response, post, {
    ...removal,
    reason: removalReasonOf(removal.reason),
    removedAt: response.deleted_at ?? new Date(),
  });
  deps.feedCache.afterCommit(trx, { circles: [post.circle_id] });
  return response;
}

/** `content.post.removed.v1` of `post` (its row as changed), aggregate the post. */
export function enqueuePostRemoved(trx: Trx, outbox: Outbox, post: PostRow, removal: Announced) {
  return outbox.enqueue(
    trx,
    contentEvents.postRemoved,
    {
      postId: post.id,
      circleId: post.circle_id,
      authorId: post.author_id,
      removedBy: removal.removedBy ?? "",
      reason: removal.reason,
      removedAt: timestampFromDate(removal.removedAt),
      version: BigInt(post.version),
    },
    { actorId: removal.actorId, aggregateId: post.id },
  );
}

/** `content.response.removed.v1` of a response of `post`, aggregate the post. */
export function enqueueResponseRemoved(
  trx: Trx,
  outbox: Outbox,
  response: Pick<ResponseRow, "id" | "author_id">,
  post: ParentPost,
  removal: Announced,
) {
  return outbox.enqueue(
    trx,
    contentEvents.responseRemoved,
    {
      responseId: response.id,
      postId: post.id,
      circleId: post.circle_id,
      authorId: response.author_id,
      removedBy: removal.removedBy ?? "",
      reason: removal.reason,
      removedAt: timestampFromDate(removal.removedAt),
    },
    { actorId: removal.actorId, aggregateId: post.id },
  );
}

/** Who brought content back, for its restored event. */
export interface Restoration {
  caseId: string;
  actorId: string;
  restoredAt: Date;
}

/** `content.post.restored.v1` of `post` (its row as changed), and its feed pages invalidated. */
export async function announcePostRestored(
  trx: Trx,
  deps: VisibilityDeps,
  post: PostRow,
  restoration: Restoration,
) {
  await deps.outbox.enqueue(
    trx,
    contentEvents.postRestored,
    {
      postId: post.id,
      circleId: post.circle_id,
      authorId: post.author_id,
      caseId: restoration.caseId,
      restoredAt: timestampFromDate(restoration.restoredAt),
      version: BigInt(post.version),
    },
    { actorId: restoration.actorId, aggregateId: post.id },
  );
  deps.feedCache.afterCommit(trx, { circles: [post.circle_id] });
}

/** `content.response.restored.v1` of a response of `post`, and its feed pages invalidated. */
export async function announceResponseRestored(
  trx: Trx,
  deps: VisibilityDeps,
  response: Pick<ResponseRow, "id" | "author_id">,
  post: ParentPost,
  restoration: Restoration,
) {
  await deps.outbox.enqueue(
    trx,
    contentEvents.responseRestored,
    {
      responseId: response.id,
      postId: post.id,
      circleId: post.circle_id,
      authorId: response.author_id,
      caseId: restoration.caseId,
      restoredAt: timestampFromDate(restoration.restoredAt),
    },
    { actorId: restoration.actorId, aggregateId: post.id },
  );
  deps.feedCache.afterCommit(trx, { circles: [post.circle_id] });
}
