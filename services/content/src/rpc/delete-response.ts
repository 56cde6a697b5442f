import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import type { DeleteResponseRequest, DeleteResponseResponse } from "@kindred/proto/content/v1";
import { sql } from "kysely";
import type { PostDeps } from "../deps.ts";
import { findLiveResponse } from "../posts.ts";
import { removalReasonOf } from "./post-mapping.ts";

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
    const found = await findLiveResponse(db.kysely, req.responseId);
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
      const response = await trx
        .updateTable("response")
        .set({
          deleted_at: sql<Date>`now()`,
          removed_by: principal.userId,
          removal_reason: reason,
        })
        .where("id", "=", req.responseId)
        .where("deleted_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (response === undefined) throw new DomainError("not_found", "response not found");
      await outbox.enqueue(
        trx,
        contentEvents.responseRemoved,
        {
          responseId: response.id,
          postId: post.id,
          circleId: post.circle_id,
          authorId: response.author_id,
          removedBy: principal.userId,
          reason: removalReasonOf(reason),
          removedAt: timestampFromDate(response.deleted_at ?? new Date()),
        },
        { actorId: principal.userId, aggregateId: post.id },
      );
      feedCache.afterCommit(trx, { circles: [post.circle_id] });
    });
    return {};
  };
}
