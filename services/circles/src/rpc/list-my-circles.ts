import { decodeKeyPosition, encodeKeyPosition, pageOf, pageSizeOf } from "@kindred/paging";
import { callerOf } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { type CircleRow, toCircle } from "../mapping.ts";

/**
 * The caller's circles, archived ones included, most recently joined first. Cached in two
 * parts: the page's circle ids (invalidated when the caller's memberships change) and those
 * circles' rows (invalidated when one of them changes).
 */
export function listMyCircles({ db, pageTokens, cache }: CirclesDeps): Method<"listMyCircles"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const size = pageSizeOf(req.pageSize);
    const scope = `ListMyCircles:${caller.userId}`;
    // Checked on every read: a token is only good for its own user's list.
    const after = decodeKeyPosition(pageTokens, req.pageToken, scope, 1);
    const position = after === undefined ? "first" : `${after.keys.join("|")}:${after.id}`;
    const page = await cache.memberships(caller.userId, `${size}:${position}`, async () => {
      let query = db.kysely
        .selectFrom("circle_member")
        .select(["circle_id", "joined_at"])
        .where("user_id", "=", caller.userId);
      if (after !== undefined) {
        const [joinedAt = 0] = after.keys;
        query = query.where((eb) =>
          eb(eb.refTuple("joined_at", "circle_id"), "<", eb.tuple(new Date(joinedAt), after.id)),
        );
      }
      const rows = await query
        .orderBy("joined_at", "desc")
        .orderBy("circle_id", "desc")
        .limit(size + 1)
        .execute();
      const { rows: members, last } = pageOf(rows, size);
      return {
        circleIds: members.map((m) => m.circle_id),
        next: last ? { joinedAt: last.joined_at.getTime(), circleId: last.circle_id } : null,
      };
    });
    const circles = await cache.circles(page.circleIds, async () => {
      const rows = await db.kysely
        .selectFrom("circle")
        .selectAll()
        .where("id", "in", page.circleIds)
        .execute();
      const byId = new Map(rows.map((row) => [row.id, row]));
      return page.circleIds.map((id) => byId.get(id)).filter((row): row is CircleRow => !!row);
    });
    // Signed at every read: the cache holds positions, never tokens.
    const { next } = page;
    const nextPosition = next === null ? undefined : { keys: [next.joinedAt], id: next.circleId };
    return {
      circles: circles.map(toCircle),
      nextPageToken: encodeKeyPosition(pageTokens, nextPosition, scope),
    };
  };
}
