import { decodeKeyPosition, encodeKeyPosition, pageOf, pageSizeOf } from "@kindred/paging";
import { callerOf } from "../access.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toDecision } from "../mapping.ts";

/** Decisions against the caller (not dismissals), newest first, without who decided: what they may appeal. */
export function listMyDecisions({ db, pageTokens }: ModerationDeps): Method<"listMyDecisions"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const size = pageSizeOf(req.pageSize);
    const scope = `ListMyDecisions:${caller.userId}`;
    const after = decodeKeyPosition(pageTokens, req.pageToken, scope, 1);
    let query = db.kysely
      .selectFrom("decision")
      .selectAll()
      .where("affected_user_id", "=", caller.userId)
      // A dismissal did nothing to the user; showing it would tell them they were reported.
      .where("action", "<>", "dismiss");
    if (after !== undefined) {
      query = query.where((eb) =>
        eb(eb.refTuple("decided_at", "id"), "<", eb.tuple(new Date(after.keys[0] ?? 0), after.id)),
      );
    }
    const rows = await query
      .orderBy("decided_at", "desc")
      .orderBy("id", "desc")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      decisions: page.map((row) => toDecision(row, { forAffectedUser: true })),
      nextPageToken: encodeKeyPosition(
        pageTokens,
        last && { keys: [last.decided_at.getTime()], id: last.id },
        scope,
      ),
    };
  };
}
