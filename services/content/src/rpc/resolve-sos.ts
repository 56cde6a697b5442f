import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { contentEvents } from "@kindred/event-catalog";
import type { ResolveSosRequest, ResolveSosResponse } from "@kindred/proto/content/v1";
import { sql } from "kysely";
import type { SosDeps } from "../deps.ts";
import { alertNotFound } from "../sos-access.ts";
import { acknowledgementsOf, findAlert, toSosAlert } from "../sos-alerts.ts";

/**
 * Closes an alert (its raiser, the circle's moderators and owners, platform moderators:
 * `SosRules.requireResolver`) and writes `content.sos.resolved.v1`. Resolving a resolved alert
 * changes nothing and answers with it as it is (a retry is safe).
 */
export function resolveSos({ db, outbox, sos }: Pick<SosDeps, "db" | "outbox" | "sos">) {
  return async (
    req: ResolveSosRequest,
    ctx: HandlerContext,
  ): Promise<Partial<ResolveSosResponse>> => {
    const principal = requirePrincipal(ctx);
    const found = await findAlert(db.kysely, req.alertId);
    if (found === undefined) throw alertNotFound();
    await sos.requireResolver(principal, found, ctx.signal);
    const alert = await db.transaction(async (trx) => {
      const resolved = await trx
        .updateTable("sos_alert")
        .set({
          status: "resolved",
          resolved_at: sql<Date>`now()`,
          resolved_by: principal.userId,
        })
        .where("id", "=", found.id)
        .where("status", "!=", "resolved")
        .returningAll()
        .executeTakeFirst();
      if (resolved === undefined) {
        const current = await trx
          .selectFrom("sos_alert")
          .selectAll()
          .where("id", "=", found.id)
          .executeTakeFirst();
        if (current === undefined) throw alertNotFound();
        return current;
      }
      await outbox.enqueue(
        trx,
        contentEvents.sosResolved,
        {
          alertId: resolved.id,
          circleId: resolved.circle_id,
          raisedBy: resolved.raised_by,
          resolvedBy: principal.userId,
          resolvedAt: timestampFromDate(resolved.resolved_at ?? new Date()),
        },
        { actorId: principal.userId, aggregateId: resolved.id },
      );
      return resolved;
    });
    const acks = await acknowledgementsOf(db.kysely, [alert.id]);
    const messageVisible = await sos.messageVisibleTo(alert, principal.userId);
    return { alert: toSosAlert(alert, acks.get(alert.id) ?? [], { messageVisible }) };
  };
}
