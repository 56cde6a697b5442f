import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import type { GetPostRequest, GetPostResponse } from "@kindred/proto/content/v1";
import type { PostDeps } from "../deps.ts";
import { findLivePost } from "../posts.ts";
import { toPost } from "./post-mapping.ts";

/**
 * A live post the caller may see (`AccessRules`): anything else is `not_found`. Its author also
 * gets it while it is hidden for review (ADR 15).
 */
export function getPost({ db, access }: Pick<PostDeps, "db" | "access">) {
  return async (req: GetPostRequest, ctx: HandlerContext): Promise<Partial<GetPostResponse>> => {
    const { userId } = requirePrincipal(ctx);
    const post = await findLivePost(db.kysely, req.postId, userId);
    if (post === undefined) throw new DomainError("not_found", "post not found");
    await access.requireVisible(
      { circleId: post.circle_id, authors: [post.author_id], what: "post" },
      userId,
      { write: false, signal: ctx.signal },
    );
    return { post: toPost(post) };
  };
}
