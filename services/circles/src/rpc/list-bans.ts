import { decodeKeyPosition, encodeKeyPosition, pageOf, pageSizeOf } from "@kindred/paging";
import { callerOf, requireManager, visibleCircle } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toBan } from "../mapping.ts";

/** A circle's active bans, most recent first: for its owners, moderators and platform staff. */
export function listBans({ db, pageTokens, now }: CirclesDeps): Method<"listBans"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const s = await visibleCircle(db.kysely, caller, req.circleId);
    requireManager(s, "see its bans");
    const size = pageSizeOf(req.pageSize);
    const scope = `ListBans:${caller.userId}:${s.circle.id}`;
    const after = decodeKeyPosition(pageTokens, req.pageToken, scope, 1);
    const at = now();
    let query = db.kysely
      .selectFrom("circle_ban")
      .selectAll()
      .where("circle_id", "=", s.circle.id)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", at)]));
    if (after !== undefined) {
      const [createdAt = 0] = after.keys;
      query = query.where((eb) =>
        eb(eb.refTuple("created_at", "user_id"), "<", eb.tuple(new Date(createdAt), after.id)),
      );
    }
    const rows = await query
      .orderBy("created_at", "desc")
      .orderBy("user_id", "desc")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      bans: page.map(toBan),
      nextPageToken: encodeKeyPosition(
        pageTokens,
        last && { keys: [last.created_at.getTime()], id: last.user_id },
        scope,
      ),
    };
  };
}
