import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import type { DeletePostRequest, DeletePostResponse } from "@kindred/proto/content/v1";
import { livePost } from "../access.ts";
import type { PostDeps } from "../deps.ts";
import { findLivePost } from "../posts.ts";
import { removePost } from "../removal.ts";

/**
 * Soft-deletes a live post (its author, the circle's moderators and owners, platform
 * moderators: `AccessRules.requireRemoval`) and writes `content.post.removed.v1` with the
 * reason that allowed it. Its responses vanish with it; the expiry purge hard-deletes both later.
 * A post hidden for review is its author's alone to remove: others do not see it.
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
    const found = await findLivePost(db.kysely, req.postId, principal.userId);
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
      const removed = await removePost(
        trx,
        { outbox, feedCache },
        req.postId,
        { removedBy: principal.userId, reason, actorId: principal.userId },
        livePost,
      );
      // Removed (or expired) by someone else in the meantime.
      if (removed === undefined) throw new DomainError("not_found", "post not found");
    });
    return {};
  };
}
