import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import type { UpdatePostRequest, UpdatePostResponse } from "@kindred/proto/content/v1";
import { sql } from "kysely";
import { livePost, underReview } from "../access.ts";
import type { PostDeps } from "../deps.ts";
import { findLivePost } from "../posts.ts";
import { toPost } from "./post-mapping.ts";

/**
 * The author edits the text of a live post in a circle that is not archived, naming the version
 * they read: a stale one gets `aborted` and changes nothing. Writes `content.post.updated.v1`
 * in the same transaction. A post hidden for review takes no edits (`UNDER_REVIEW`, ADR 15).
 */
export function updatePost({
  db,
  outbox,
  access,
  feedCache,
}: Pick<PostDeps, "db" | "outbox" | "access" | "feedCache">) {
  return async (
    req: UpdatePostRequest,
    ctx: HandlerContext,
  ): Promise<Partial<UpdatePostResponse>> => {
    const { userId } = requirePrincipal(ctx);
    const body = req.body.trim();
    if (body === "") throw new DomainError("invalid_argument", "body must not be blank");
    const found = await findLivePost(db.kysely, req.postId, userId);
    if (found === undefined) throw new DomainError("not_found", "post not found");
    await access.requireVisible(
      { circleId: found.circle_id, authors: [found.author_id], what: "post" },
      userId,
      { write: true, signal: ctx.signal },
    );
    if (found.author_id !== userId) {
      throw new DomainError("permission_denied", "only its author may edit a post");
    }
    const row = await db.transaction(async (trx) => {
      const current = await trx
        .selectFrom("post")
        .select(["version", "hidden_by_case"])
        .where("id", "=", req.postId)
        .where(livePost)
        .forUpdate()
        .executeTakeFirst();
      if (current === undefined) throw new DomainError("not_found", "post not found");
      if (current.hidden_by_case !== null) throw underReview("post");
      if (current.version !== String(req.expectedVersion)) {
        throw new DomainError(
          "aborted",
          `the post changed since you read it (version ${current.version} is current): reload it and retry`,
          { reason: "STALE_VERSION" },
        );
      }
      const post = await trx
        .updateTable("post")
        .set({ body, updated_at: sql<Date>`now()`, version: sql<string>`version + 1` })
        .where("id", "=", req.postId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await outbox.enqueue(
        trx,
        contentEvents.postUpdated,
        {
          postId: post.id,
          circleId: post.circle_id,
          authorId: post.author_id,
          body: post.body,
          ...(post.content_warning === null ? {} : { contentWarning: post.content_warning }),
          updatedAt: timestampFromDate(post.updated_at),
          version: BigInt(post.version),
        },
        { actorId: userId, aggregateId: post.id },
      );
      feedCache.afterCommit(trx, { circles: [post.circle_id] });
      return post;
    });
    return { post: toPost(row) };
  };
}
