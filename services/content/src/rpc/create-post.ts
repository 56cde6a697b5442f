import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import { newEventId } from "@kindred/events";
import type { CreatePostRequest, CreatePostResponse } from "@kindred/proto/content/v1";
import { sql } from "kysely";
import type { PostDeps } from "../deps.ts";
import { toPost } from "./post-mapping.ts";

/**
 * Writes the post and its `content.post.created.v1` event in one transaction: both exist, or
 * neither. Only active members of a circle that is not archived may post (`AccessRules`); the
 * membership check waits a bounded time for the projection (ADR 11).
 */
export function createPost({
  db,
  outbox,
  access,
  feedCache,
}: Pick<PostDeps, "db" | "outbox" | "access" | "feedCache">) {
  return async (
    req: CreatePostRequest,
    ctx: HandlerContext,
  ): Promise<Partial<CreatePostResponse>> => {
    const principal = requirePrincipal(ctx);
    const body = req.body.trim();
    if (body === "") throw new DomainError("invalid_argument", "body must not be blank");
    const warning = req.contentWarning?.trim();
    await access.requireMember(req.circleId, principal.userId, { write: true, signal: ctx.signal });
    const row = await db.transaction(async (trx) => {
      const post = await trx
        .insertInto("post")
        .values({
          id: newEventId(),
          circle_id: req.circleId,
          author_id: principal.userId,
          body,
          content_warning: warning === undefined || warning === "" ? null : warning,
          // The database's clock, as every read that hides expired posts uses.
          expires_at:
            req.expiresInSeconds === undefined
              ? null
              : sql<Date>`now() + make_interval(secs => ${Number(req.expiresInSeconds)})`,
          deleted_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await outbox.enqueue(
        trx,
        contentEvents.postCreated,
        {
          postId: post.id,
          circleId: post.circle_id,
          authorId: post.author_id,
          body: post.body,
          ...(post.content_warning === null ? {} : { contentWarning: post.content_warning }),
          createdAt: timestampFromDate(post.created_at),
          ...(post.expires_at === null ? {} : { expiresAt: timestampFromDate(post.expires_at) }),
          version: BigInt(post.version),
        },
        { actorId: principal.userId, aggregateId: post.id },
      );
      feedCache.afterCommit(trx, { circles: [post.circle_id] });
      return post;
    });
    return { post: toPost(row) };
  };
}
