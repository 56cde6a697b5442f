import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import type { DeletePostRequest, DeletePostResponse } from "@kindred/proto/content/v1";
import { sql } from "kysely";
import { livePost } from "../access.ts";
import type { PostDeps } from "../deps.ts";
import { findLivePost } from "../posts.ts";
import { removalReasonOf } from "./post-mapping.ts";

/**
 * Soft-deletes a live post (its author, the circle's moderators and owners, platform
 * moderators: `AccessRules.requireRemoval`) and writes `content.post.removed.v1` with the
 * reason that allowed it. Its responses vanish with it; the expiry purge hard-deletes both later.
 */
export function deletePost({
  db,
  outbox,
  access,
  feedCache,
}: Pick<PostDeps, "db" | "outbox" | "access" | "feedCache">) {
  return async (
    req: DeletePostRequest,
    ctx: HandlerContext,
  ): Promise<Partial<DeletePostResponse>> => {
    const principal = requirePrincipal(ctx);
    const found = await findLivePost(db.kysely, req.postId);
    if (found === undefined) throw new DomainError("not_found", "post not found");
    const reason = await access.requireRemoval(
      principal,
      {
        circleId: found.circle_id,
        authorId: found.author_id,
        authors: [found.author_id],
        what: "post",
      },
      ctx.signal,
    );
    await db.transaction(async (trx) => {
      const post = await trx
        .updateTable("post")
        .set({
          deleted_at: sql<Date>`now()`,
          updated_at: sql<Date>`now()`,
          version: sql<string>`version + 1`,
          removed_by: principal.userId,
          removal_reason: reason,
        })
        .where("id", "=", req.postId)
        .where(livePost)
        .returningAll()
        .executeTakeFirst();
      // Removed (or expired) by someone else in the meantime.
      if (post === undefined) throw new DomainError("not_found", "post not found");
      await outbox.enqueue(
        trx,
        contentEvents.postRemoved,
        {
          postId: post.id,
          circleId: post.circle_id,
          authorId: post.author_id,
          removedBy: principal.userId,
          reason: removalReasonOf(reason),
          removedAt: timestampFromDate(post.deleted_at ?? post.updated_at),
          version: BigInt(post.version),
        },
        { actorId: principal.userId, aggregateId: post.id },
      );
      feedCache.afterCommit(trx, { circles: [post.circle_id] });
    });
    return {};
  };
}
