import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { pageOf, pageSizeOf } from "@kindred/paging";
import type { ListActiveSosRequest, ListActiveSosResponseSchema } from "@kindred/proto/content/v1";
import { type SqlBool, sql } from "kysely";
import { noBlockBetween } from "../access.ts";
import type { SosDeps } from "../deps.ts";
import { cursorAt, decodePosition, encodePosition, olderThan } from "../keyset.ts";
import { acknowledgementsOf, toSosAlert } from "../sos-alerts.ts";

/**
 * The unresolved alerts of the caller's circles (or of `circle_id`, members only), newest
 * first, keyset-paged with tokens bound to the caller and the filter. Blocks hide no alert,
 * only the raiser's message (ADR 13).
 */
export function listActiveSos({
  db,
  access,
  pageTokens,
}: Pick<SosDeps, "db" | "access" | "pageTokens">) {
  return async (
    req: ListActiveSosRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListActiveSosResponseSchema>> => {
    const { userId } = requirePrincipal(ctx);
    const circleId = req.circleId;
    const size = pageSizeOf(req.pageSize);
    const scope = `ListActiveSos:${userId}:${circleId ?? "*"}`;
    const after = decodePosition(pageTokens, req.pageToken, scope);
    if (circleId !== undefined) {
      await access.requireMember(circleId, userId, { write: false, signal: ctx.signal });
    }
    const rows = await db.kysely
      .selectFrom("sos_alert as a")
      .innerJoin("circle_member as m", (join) =>
        join
          .onRef("m.circle_id", "=", "a.circle_id")
          .on("m.user_id", "=", userId)
          .on("m.left_at", "is", null),
      )
      .selectAll("a")
      .select(cursorAt("a.created_at").as("cursor_at"))
      .select(noBlockBetween(userId, "a.raised_by").as("message_visible"))
      .where("a.status", "!=", "resolved")
      .where((eb) => (circleId === undefined ? eb.lit(true) : eb("a.circle_id", "=", circleId)))
      .where(after === undefined ? sql<SqlBool>`true` : olderThan("a.created_at", "a.id", after))
      .orderBy("a.created_at", "desc")
      .orderBy("a.id", "desc")
      .limit(size + 1)
      .execute();
    const { rows: page, last } = pageOf(rows, size);
    const acks = await acknowledgementsOf(
      db.kysely,
      page.map((row) => row.id),
    );
    return {
      alerts: page.map(({ cursor_at: _, message_visible, ...row }) =>
        toSosAlert(row, acks.get(row.id) ?? [], { messageVisible: message_visible === true }),
      ),
      nextPageToken: encodePosition(pageTokens, last, scope),
    };
  };
}
