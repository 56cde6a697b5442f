import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import { newEventId } from "@kindred/events";
import type { RaiseSosRequest, RaiseSosResponse } from "@kindred/proto/content/v1";
import type { SosDeps } from "../deps.ts";
import { toSosAlert } from "../sos-alerts.ts";
import { enforceRateLimit, refuseIfRestricted } from "../sos-limits.ts";

/**
 * Raises an SOS in a circle the caller is an active member of (not archived), unless moderators
 * restricted them from it or they reached the hourly limit. The alert starts at stage CIRCLE
 * (realtime and notifier deliver `content.sos.raised.v1` to every member, issue 7); the
 * escalation job moves it on while nobody acknowledges it.
 */
export function raiseSos({ db, outbox, access, maxPerHour }: SosDeps) {
  return async (req: RaiseSosRequest, ctx: HandlerContext): Promise<Partial<RaiseSosResponse>> => {
    const { userId } = requirePrincipal(ctx);
    const message = req.message?.trim();
    if (message === "") throw new DomainError("invalid_argument", "message must not be blank");
    await refuseIfRestricted(db.kysely, userId);
    await access.requireMember(req.circleId, userId, { write: true, signal: ctx.signal });
    const alert = await db.transaction(async (trx) => {
      await enforceRateLimit(trx, userId, maxPerHour);
      const row = await trx
        .insertInto("sos_alert")
        .values({
          id: newEventId(),
          circle_id: req.circleId,
          raised_by: userId,
          message: message ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await outbox.enqueue(
        trx,
        contentEvents.sosRaised,
        {
          alertId: row.id,
          circleId: row.circle_id,
          raisedBy: row.raised_by,
          ...(row.message === null ? {} : { message: row.message }),
          raisedAt: timestampFromDate(row.created_at),
        },
        { actorId: userId, aggregateId: row.id },
      );
      return row;
    });
    return { alert: toSosAlert(alert, [], { messageVisible: true }) };
  };
}
