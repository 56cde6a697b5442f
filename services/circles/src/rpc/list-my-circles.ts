import { pageOf, pageSizeOf } from "@kindred/paging";
import { callerOf } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { decodePosition, encodePosition } from "../keyset.ts";
import { toCircle } from "../mapping.ts";

/** The caller's circles, archived ones included, most recently joined first. */
export function listMyCircles({ db, pageTokens }: CirclesDeps): Method<"listMyCircles"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const size = pageSizeOf(req.pageSize);
    const scope = `ListMyCircles:${caller.userId}`;
    const after = decodePosition(pageTokens, req.pageToken, scope, 1);
    let query = db.kysely
      .selectFrom("circle_member as m")
      .innerJoin("circle as c", "c.id", "m.circle_id")
      .selectAll("c")
      .select("m.joined_at")
      .where("m.user_id", "=", caller.userId);
    if (after !== undefined) {
      const [joinedAt = 0] = after.keys;
      query = query.where((eb) =>
        eb(eb.refTuple("m.joined_at", "m.circle_id"), "<", eb.tuple(new Date(joinedAt), after.id)),
      );
    }
    const rows = await query
      .orderBy("m.joined_at", "desc")
      .orderBy("m.circle_id", "desc")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      circles: page.map(toCircle),
      nextPageToken: encodePosition(
        pageTokens,
        last && { keys: [last.joined_at.getTime()], id: last.id },
        scope,
      ),
    };
  };
}
