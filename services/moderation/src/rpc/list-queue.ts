import { decodeKeyPosition, encodeKeyPosition, pageOf, pageSizeOf } from "@kindred/paging";
import { CaseStatus } from "@kindred/proto/moderation/v1";
import type { ExpressionBuilder } from "kysely";
import { callerOf, requireModerator } from "../access.ts";
import type { ModerationDatabase } from "../db/schema.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toCase } from "../mapping.ts";
import { reasonFromProto } from "../names.ts";

/**
 * The cases the caller may work, highest priority first, then oldest first: everything for
 * platform moderators, their circles' circle-scoped cases for circle moderators. By default the
 * unresolved ones; a status filter picks one status (a live claim counts as claimed).
 */
export function listQueue({ db, pageTokens, now }: ModerationDeps): Method<"listQueue"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const circles = await requireModerator(db.kysely, caller);
    const at = now();
    const size = pageSizeOf(req.pageSize);
    const reason = req.reason === undefined ? undefined : reasonFromProto(req.reason);
    const circleId = req.circleId?.toLowerCase();
    const scope = `ListQueue:${caller.userId}:${req.status ?? ""}:${reason ?? ""}:${circleId ?? ""}`;
    const after = decodeKeyPosition(pageTokens, req.pageToken, scope, 2);
    let query = db.kysely.selectFrom("mod_case").selectAll();
    if (!caller.platform) {
      query = query.where("scope", "=", "circle").where("circle_id", "in", circles);
    }
    const unclaimed = (eb: ExpressionBuilder<ModerationDatabase, "mod_case">) =>
      eb.or([eb("claim_expires_at", "is", null), eb("claim_expires_at", "<=", at)]);
    switch (req.status) {
      case undefined:
        query = query.where("status", "<>", "resolved");
        break;
      case CaseStatus.OPEN:
        query = query.where("status", "=", "open").where(unclaimed);
        break;
      case CaseStatus.ESCALATED:
        query = query.where("status", "=", "escalated").where(unclaimed);
        break;
      case CaseStatus.CLAIMED:
        query = query.where("status", "<>", "resolved").where("claim_expires_at", ">", at);
        break;
      default:
        query = query.where("status", "=", "resolved");
    }
    if (reason !== undefined) query = query.where("reason", "=", reason);
    if (circleId !== undefined) query = query.where("circle_id", "=", circleId);
    if (after !== undefined) {
      const [priority = 0, createdAt = 0] = after.keys;
      query = query.where((eb) =>
        eb.or([
          eb("priority", "<", priority),
          eb.and([
            eb("priority", "=", priority),
            eb(eb.refTuple("created_at", "id"), ">", eb.tuple(new Date(createdAt), after.id)),
          ]),
        ]),
      );
    }
    const rows = await query
      .orderBy("priority", "desc")
      .orderBy("created_at")
      .orderBy("id")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    return {
      cases: page.map((row) => toCase(row, at)),
      nextPageToken: encodeKeyPosition(
        pageTokens,
        last && { keys: [last.priority, last.created_at.getTime()], id: last.id },
        scope,
      ),
    };
  };
}
