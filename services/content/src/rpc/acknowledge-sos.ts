import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import type { AcknowledgeSosRequest, AcknowledgeSosResponse } from "@kindred/proto/content/v1";
import type { SosDeps } from "../deps.ts";
import { alertNotFound } from "../sos-access.ts";
import { acknowledgementsOf, findAlert, toSosAlert } from "../sos-alerts.ts";

/**
 * "I'm here": a member other than the raiser acknowledges an alert that is not resolved. The
 * first acknowledgement moves it to ACKNOWLEDGED, which stops its escalation; later ones are
 * recorded too. Each new acknowledgement writes `content.sos.acknowledged.v1`; the same member
 * acknowledging again changes nothing and gets the alert as it is (a retry is safe).
 */
export function acknowledgeSos({ db, outbox, sos }: Pick<SosDeps, "db" | "outbox" | "sos">) {
  return async (
    req: AcknowledgeSosRequest,
    ctx: HandlerContext,
  ): Promise<Partial<AcknowledgeSosResponse>> => {
    const { userId } = requirePrincipal(ctx);
    const found = await findAlert(db.kysely, req.alertId);
    if (found === undefined) throw alertNotFound();
    const viewer = await sos.requireAcknowledger(found, userId, ctx.signal);
    const alert = await db.transaction(async (trx) => {
      // Holds off the escalation job (which skips locked alerts) and a concurrent resolution.
      const current = await trx
        .selectFrom("sos_alert")
        .selectAll()
        .where("id", "=", req.alertId)
        .forUpdate()
        .executeTakeFirst();
      if (current === undefined) throw alertNotFound();
      const ack = await trx
        .insertInto("sos_acknowledgement")
        .values({ alert_id: current.id, user_id: userId })
        .onConflict((oc) => oc.columns(["alert_id", "user_id"]).doNothing())
        .returningAll()
        .executeTakeFirst();
      // Acknowledged before: the same answer again, nothing new.
      if (ack === undefined) return current;
      if (current.status === "resolved") {
        throw new DomainError("failed_precondition", "this SOS has been resolved already", {
          reason: "SOS_RESOLVED",
        });
      }
      const updated =
        current.status === "acknowledged"
          ? current
          : await trx
              .updateTable("sos_alert")
              .set({ status: "acknowledged" })
              .where("id", "=", current.id)
              .returningAll()
              .executeTakeFirstOrThrow();
      await outbox.enqueue(
        trx,
        contentEvents.sosAcknowledged,
        {
          alertId: current.id,
          circleId: current.circle_id,
          raisedBy: current.raised_by,
          acknowledgedBy: userId,
          acknowledgedAt: timestampFromDate(ack.acknowledged_at),
        },
        { actorId: userId, aggregateId: current.id },
      );
      return updated;
    });
    const acks = await acknowledgementsOf(db.kysely, [alert.id]);
    return { alert: toSosAlert(alert, acks.get(alert.id) ?? [], viewer) };
  };
}
