import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import type { DeleteResponseRequest, DeleteResponseResponse } from "@kindred/proto/content/v1";
import type { PostDeps } from "../deps.ts";
import { findLiveResponse } from "../posts.ts";
import { removeResponse } from "../removal.ts";

/**
 * Soft-deletes a response (its author, the circle's moderators and owners, platform
 * moderators) and writes `content.response.removed.v1` (aggregate: the post).
 */
export function deleteResponse({
  db,
  outbox,
  access,
  feedCache,
}: Pick<PostDeps, "db" | "outbox" | "access" | "feedCache">) {
  return async (
    req: DeleteResponseRequest,
    ctx: HandlerContext,
  ): Promise<Partial<DeleteResponseResponse>> => {
    const principal = requirePrincipal(ctx);
    const found = await findLiveResponse(db.kysely, req.responseId, principal.userId);
    if (found === undefined) throw new DomainError("not_found", "response not found");
    const { post } = found;
    const reason = await access.requireRemoval(
      principal,
      {
        circleId: post.circle_id,
        authorId: found.response.author_id,
        authors: [post.author_id, found.response.author_id],
        what: "response",
      },
      ctx.signal,
    );
    await db.transaction(async (trx) => {
      const removed = await removeResponse(trx, { outbox, feedCache }, req.responseId, post, {
        removedBy: principal.userId,
        reason,
        actorId: principal.userId,
      });
      if (removed === undefined) throw new DomainError("not_found", "response not found");
    });
    return {};
  };
}
