import { decodeKeyPosition, encodeKeyPosition, pageOf, pageSizeOf } from "@kindred/paging";
import { callerOf, requireMember, visibleCircle } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toMember } from "../mapping.ts";

/** A circle's members, for its members and platform staff: owners, moderators, then members, each by join time. */
export function listMembers({ db, pageTokens }: CirclesDeps): Method<"listMembers"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const s = await visibleCircle(db.kysely, caller, req.circleId);
    requireMember(s, "see its members");
    const size = pageSizeOf(req.pageSize);
    const scope = `ListMembers:${caller.userId}:${s.circle.id}`;
    const after = decodeKeyPosition(pageTokens, req.pageToken, scope, 2);
    let query = db.kysely
      .selectFrom("circle_member")
      .selectAll()
      .where("circle_id", "=", s.circle.id);
    if (after !== undefined) {
      const [rank = 0, joinedAt = 0] = after.keys;
      query = query.where((eb) =>
        eb(
          eb.refTuple("role_rank", "joined_at", "user_id"),
          ">",
          eb.tuple(rank, new Date(joinedAt), after.id),
        ),
      );
    }
    const rows = await query
      .orderBy("role_rank")
      .orderBy("joined_at")
      .orderBy("user_id")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      members: page.map(toMember),
      nextPageToken: encodeKeyPosition(
        pageTokens,
        last && { keys: [last.role_rank, last.joined_at.getTime()], id: last.user_id },
        scope,
      ),
    };
  };
}
