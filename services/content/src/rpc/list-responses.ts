import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { pageOf, pageSizeOf } from "@kindred/paging";
import type { ListResponsesRequest, ListResponsesResponseSchema } from "@kindred/proto/content/v1";
import { noBlockBetween, responseShownTo } from "../access.ts";
import type { PostDeps } from "../deps.ts";
import { cursorAt, decodePosition, encodePosition, newerThan } from "../keyset.ts";
import { findLivePost } from "../posts.ts";
import { toResponse } from "./post-mapping.ts";

/**
 * Responses to a post the caller may see, oldest first (the proto's contract), keyset-paged;
 * without removed ones, those hidden for review (but the caller's own), and those of users
 * blocked by or blocking the caller.
 */
export function listResponses({ db, access, pageTokens }: Omit<PostDeps, "outbox">) {
  return async (
    req: ListResponsesRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListResponsesResponseSchema>> => {
    const { userId } = requirePrincipal(ctx);
    const size = pageSizeOf(req.pageSize);
    const scope = `ListResponses:${userId}:${req.postId}`;
    const after = decodePosition(pageTokens, req.pageToken, scope);
    const post = await findLivePost(db.kysely, req.postId, userId);
    if (post === undefined) throw new DomainError("not_found", "post not found");
    await access.requireVisible(
      { circleId: post.circle_id, authors: [post.author_id], what: "post" },
      userId,
      { write: false, signal: ctx.signal },
    );
    let query = db.kysely
      .selectFrom("response")
      .selectAll()
      .select(cursorAt("response.created_at").as("cursor_at"))
      .where("post_id", "=", post.id)
      .where("deleted_at", "is", null)
      .where(responseShownTo(userId))
      .where(noBlockBetween(userId, "response.author_id"));
    if (after !== undefined)
      query = query.where(newerThan("response.created_at", "response.id", after));
    const rows = await query
      .orderBy("response.created_at", "asc")
      .orderBy("response.id", "asc")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      responses: page.map(toResponse),
      nextPageToken: encodePosition(pageTokens, last, scope),
    };
  };
}
