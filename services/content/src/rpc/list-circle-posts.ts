import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import type {
  ListCirclePostsRequest,
  ListCirclePostsResponseSchema,
} from "@kindred/proto/content/v1";
import type { PostDeps } from "../deps.ts";
import { postPage } from "../feed.ts";

/** Posts of one circle, newest first, for its active members. */
export function listCirclePosts(deps: Omit<PostDeps, "outbox">) {
  return async (
    req: ListCirclePostsRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListCirclePostsResponseSchema>> =>
    postPage(deps, {
      method: "ListCirclePosts",
      viewerId: requirePrincipal(ctx).userId,
      circleId: req.circleId,
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      signal: ctx.signal,
    });
}
