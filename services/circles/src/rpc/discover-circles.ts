import { decodeKeyPosition, encodeKeyPosition, pageOf, pageSizeOf } from "@kindred/paging";
import { sql } from "kysely";
import { callerOf } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toCircle } from "../mapping.ts";
import { likePattern } from "../text.ts";

/**
 * Open, active circles whose name or description contains the query (case-insensitive, a
 * trigram-indexed ILIKE). Best match first — the name starts with the query, then the name
 * contains it, then only the description does — then newest first; no query lists every open
 * circle, newest first.
 */
export function discoverCircles({ db, pageTokens }: CirclesDeps): Method<"discoverCircles"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const size = pageSizeOf(req.pageSize);
    const text = req.query.normalize("NFC").trim().toLowerCase();
    const scope = `DiscoverCircles:${caller.userId}:${text}`;
    const after = decodeKeyPosition(pageTokens, req.pageToken, scope, 2);
    const rank =
      text === ""
        ? sql<number>`0`
        : sql<number>`case when c.name ilike ${likePattern(text, { anchored: true })} then 0
                           when c.name ilike ${likePattern(text, { anchored: false })} then 1
                           else 2 end`;
    // Literal predicates, so every plan (generic ones too) can use the partial indexes.
    let query = db.kysely
      .selectFrom("circle as c")
      .selectAll("c")
      .select(rank.as("match_rank"))
      .where(sql<boolean>`c.visibility = 'open' and c.archived_at is null`);
    if (text !== "") {
      query = query.where(
        sql<boolean>`(c.name || ' ' || c.description) ilike ${likePattern(text, { anchored: false })}`,
      );
    }
    if (after !== undefined) {
      const [afterRank = 0, createdAt = 0] = after.keys;
      const older = sql<boolean>`(c.created_at, c.id) < (${new Date(createdAt)}, ${after.id})`;
      query = query.where(
        text === ""
          ? older
          : sql<boolean>`(${rank} > ${afterRank} or (${rank} = ${afterRank} and ${older}))`,
      );
    }
    const rows = await query
      .orderBy("match_rank")
      .orderBy("c.created_at", "desc")
      .orderBy("c.id", "desc")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      circles: page.map(toCircle),
      nextPageToken: encodeKeyPosition(
        pageTokens,
        last && { keys: [Number(last.match_rank), last.created_at.getTime()], id: last.id },
        scope,
      ),
    };
  };
}
