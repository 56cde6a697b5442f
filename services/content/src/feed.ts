import { pageOf, pageSizeOf } from "@kindred/paging";
import { type SqlBool, sql } from "kysely";
import { livePost, noBlockBetween, postShownTo } from "./access.ts";
import type { PostDeps } from "./deps.ts";
import type { FeedPage } from "./feed-cache.ts";
import { cursorAt, decodePosition, encodePosition, olderThan, type Position } from "./keyset.ts";
import { toPost } from "./rpc/post-mapping.ts";

/**
 * One page of live posts from the circles `viewerId` is an active member of (or from one of
 * them), newest first by `(created_at, id)`: never removed or expired posts, never posts hidden
 * for review unless the viewer wrote them, never posts of a user the viewer blocked or who
 * blocked the viewer. The page token is bound to `method`, the
 * viewer and the circle filter; a circle filter needs an active membership (`AccessRules`).
 * Pages come from the feed cache when it has them (`FeedCache`); the checks above never do.
 */
export async function postPage(
  deps: Omit<PostDeps, "outbox">,
  request: {
    method: "ListFeed" | "ListCirclePosts";
    viewerId: string;
    circleId: string | undefined;
    pageSize: number;
    pageToken: string;
    signal?: AbortSignal;
  },
): Promise<FeedPage> {
  const { db, access, pageTokens, feedCache } = deps;
  const { viewerId, circleId } = request;
  const size = pageSizeOf(request.pageSize);
  const scope = `${request.method}:${viewerId}:${circleId ?? "*"}`;
  const after = decodePosition(pageTokens, request.pageToken, scope);
  let circles: string[];
  if (circleId !== undefined) {
    await access.requireMember(circleId, viewerId, { write: false, signal: request.signal });
    circles = [circleId];
  } else {
    const rows = await db.kysely
      .selectFrom("circle_member")
      .select("circle_id")
      .where("user_id", "=", viewerId)
      .where("left_at", "is", null)
      .execute();
    circles = rows.map((row) => row.circle_id);
    if (circles.length === 0) return { posts: [], nextPageToken: "" };
  }
  return feedCache.page(
    {
      method: request.method,
      viewerId,
      circleId,
      circles,
      pageSize: size,
      pageToken: request.pageToken,
    },
    () => loadPage(deps, { viewerId, circleId, size, after, scope }),
  );
}

async function loadPage(
  { db, pageTokens }: Pick<PostDeps, "db" | "pageTokens">,
  request: {
    viewerId: string;
    circleId: string | undefined;
    size: number;
    after: Position | undefined;
    scope: string;
  },
): Promise<FeedPage> {
  const { viewerId, circleId, size, after, scope } = request;
  // Per circle, only its newest `size + 1` posts after the position (an index range scan on
  // post_circle_feed), then the newest of those across circles: the cost follows the number of
  // circles and the page size, not the number of posts in them.
  const rows = await db.kysely
    .selectFrom("circle_member as m")
    .innerJoinLateral(
      (eb) =>
        eb
          .selectFrom("post")
          .selectAll("post")
          .select(cursorAt("post.created_at").as("cursor_at"))
          .whereRef("post.circle_id", "=", "m.circle_id")
          .where(livePost)
          .where(postShownTo(viewerId))
          .where(noBlockBetween(viewerId, "post.author_id"))
          .where(
            after === undefined
              ? sql<SqlBool>`true`
              : olderThan("post.created_at", "post.id", after),
          )
          .orderBy("post.created_at", "desc")
          .orderBy("post.id", "desc")
          .limit(size + 1)
          .as("p"),
      (join) => join.onTrue(),
    )
    .selectAll("p")
    .where("m.user_id", "=", viewerId)
    .where("m.left_at", "is", null)
    .where((eb) => (circleId === undefined ? eb.lit(true) : eb("m.circle_id", "=", circleId)))
    .orderBy("p.created_at", "desc")
    .orderBy("p.id", "desc")
    .limit(size + 1)
    .execute();
  const { rows: page, last } = pageOf(rows, size);
  return { posts: page.map(toPost), nextPageToken: encodePosition(pageTokens, last, scope) };
}
