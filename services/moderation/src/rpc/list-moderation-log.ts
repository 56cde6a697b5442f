import { decodeKeyPosition, encodeKeyPosition, pageOf, pageSizeOf } from "@kindred/paging";
import { callerOf, requireModerator } from "../access.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toLogEntry } from "../mapping.ts";

/**
 * The moderation log, newest first: everything for platform moderators; for circle moderators
 * the entries of their circles' circle-scoped cases (not what happened after an escalation took
 * a case away from them, and not reporter mutes).
 */
export function listModerationLog({ db, pageTokens }: ModerationDeps): Method<"listModerationLog"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const circles = await requireModerator(db.kysely, caller);
    const size = pageSizeOf(req.pageSize);
    const caseId = req.caseId?.toLowerCase();
    const actorId = req.actorId?.toLowerCase();
    const userId = req.userId?.toLowerCase();
    const scope = `ListModerationLog:${caller.userId}:${caseId ?? ""}:${actorId ?? ""}:${userId ?? ""}`;
    const after = decodeKeyPosition(pageTokens, req.pageToken, scope, 1);
    let query = db.kysely.selectFrom("moderation_log as l").selectAll("l");
    if (!caller.platform) {
      query = query
        .innerJoin("mod_case as c", "c.id", "l.case_id")
        .where("c.scope", "=", "circle")
        .where("l.circle_id", "in", circles);
    }
    if (caseId !== undefined) query = query.where("l.case_id", "=", caseId);
    if (actorId !== undefined) query = query.where("l.actor_id", "=", actorId);
    if (userId !== undefined) query = query.where("l.user_id", "=", userId);
    if (after !== undefined) {
      query = query.where((eb) =>
        eb(
          eb.refTuple("l.occurred_at", "l.id"),
          "<",
          eb.tuple(new Date(after.keys[0] ?? 0), after.id),
        ),
      );
    }
    const rows = await query
      .orderBy("l.occurred_at", "desc")
      .orderBy("l.id", "desc")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      entries: page.map(toLogEntry),
      nextPageToken: encodeKeyPosition(
        pageTokens,
        last && { keys: [last.occurred_at.getTime()], id: last.id },
        scope,
      ),
    };
  };
}
