import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import type { ListFeedRequest, ListFeedResponseSchema } from "@kindred/proto/content/v1";
import type { PostDeps } from "../deps.ts";
import { postPage } from "../feed.ts";

/** The caller's feed: posts of all their circles, or of `circle_id` (members only). */
export function listFeed(deps: Omit<PostDeps, "outbox">) {
  return async (
    req: ListFeedRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListFeedResponseSchema>> =>
    postPage(deps, {
      method: "ListFeed",
      viewerId: requirePrincipal(ctx).userId,
      circleId: req.circleId,
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      signal: ctx.signal,
    });
}
