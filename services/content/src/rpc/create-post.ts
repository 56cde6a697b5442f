import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import type { Database } from "@kindred/database";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import { newEventId, type Outbox } from "@kindred/events";
import type { CreatePostRequest, CreatePostResponse } from "@kindred/proto/content/v1";
import type { ContentDatabase } from "../db/schema.ts";
import { toPost } from "./post-mapping.ts";

export interface CreatePostDeps {
  db: Database<ContentDatabase>;
  outbox: Outbox;
}

/**
 * Writes the post and its `content.post.created.v1` event in one transaction: both exist, or
 * neither. TODO(issue 5): only members of the circle may post (content keeps a membership
 * projection fed by circles' events); for now any signed-in user may.
 */
export function createPost({ db, outbox }: CreatePostDeps) {
  return async (
    req: CreatePostRequest,
    ctx: HandlerContext,
  ): Promise<Partial<CreatePostResponse>> => {
    const principal = requirePrincipal(ctx);
    const body = req.body.trim();
    if (body === "") throw new DomainError("invalid_argument", "body must not be blank");
    const warning = req.contentWarning?.trim();
    const expiresAt =
      req.expiresInSeconds === undefined
        ? null
        : new Date(Date.now() + Number(req.expiresInSeconds) * 1000);
    const row = await db.transaction(async (trx) => {
      const post = await trx
        .insertInto("post")
        .values({
          id: newEventId(),
          circle_id: req.circleId,
          author_id: principal.userId,
          body,
          content_warning: warning === undefined || warning === "" ? null : warning,
          expires_at: expiresAt,
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
      return post;
    });
    return { post: toPost(row) };
  };
}
