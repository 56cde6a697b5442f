import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import { newEventId } from "@kindred/events";
import type { RespondToPostRequest, RespondToPostResponse } from "@kindred/proto/content/v1";
import { livePost, underReview } from "../access.ts";
import type { PostDeps } from "../deps.ts";
import { findLivePost } from "../posts.ts";
import { toResponse } from "./post-mapping.ts";

/**
 * A response to a live post the caller may see, in a circle that is not archived, with its
 * `content.response.created.v1` (aggregate: the post) in the same transaction. A post hidden
 * for review takes no responses, not even its author's (`UNDER_REVIEW`, ADR 15).
 */
export function respondToPost({
  db,
  outbox,
  access,
  feedCache,
}: Pick<PostDeps, "db" | "outbox" | "access" | "feedCache">) {
  return async (
    req: RespondToPostRequest,
    ctx: HandlerContext,
  ): Promise<Partial<RespondToPostResponse>> => {
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
    const row = await db.transaction(async (trx) => {
      // Holds off a concurrent removal until this response is in.
      const post = await trx
        .selectFrom("post")
        .select(["id", "circle_id", "author_id", "hidden_by_case"])
        .where("id", "=", req.postId)
        .where(livePost)
        .forShare()
        .executeTakeFirst();
      if (post === undefined) throw new DomainError("not_found", "post not found");
      if (post.hidden_by_case !== null) throw underReview("post");
      const response = await trx
        .insertInto("response")
        .values({ id: newEventId(), post_id: post.id, author_id: userId, body })
        .returningAll()
        .executeTakeFirstOrThrow();
      await outbox.enqueue(
        trx,
        contentEvents.responseCreated,
        {
          responseId: response.id,
          postId: post.id,
          circleId: post.circle_id,
          postAuthorId: post.author_id,
          authorId: userId,
          body: response.body,
          createdAt: timestampFromDate(response.created_at),
        },
        { actorId: userId, aggregateId: post.id },
      );
      feedCache.afterCommit(trx, { circles: [post.circle_id] });
      return response;
    });
    return { response: toResponse(row) };
  };
}
