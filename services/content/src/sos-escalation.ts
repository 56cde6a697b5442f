import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Database } from "@kindred/database";
import { contentEvents } from "@kindred/event-catalog";
import type { Outbox } from "@kindred/events";
import { sql } from "kysely";
import type { ContentDatabase } from "./db/schema.ts";
import { escalationStageOf, nextStage } from "./sos-alerts.ts";

export interface EscalationOptions {
  /** An alert that has been at its stage this long without an acknowledgement moves on. */
  ackTimeoutSeconds: number;
  /** Stops between alerts (the job runner's shutdown); what was escalated stays escalated. */
  signal?: AbortSignal;
  /** At most this many steps per run; the rest wait for the next run. */
  limit?: number;
}

const actorId = "system:sos-escalation";

/**
 * Moves every alert nobody acknowledged within `ackTimeoutSeconds` of reaching its stage one
 * stage further (CIRCLE → SECOND_WAVE → CIRCLE_MODERATORS → PLATFORM_ON_CALL), status
 * ESCALATED, with its `content.sos.escalated.v1`. Each step is its own transaction: the alert is
 * locked `for update skip locked` (an acknowledgement or resolution in flight keeps it, and
 * another runner skips it), advanced, and its event written with it. Times are the database's.
 * Idempotent: an alert advanced just now is not due again until another timeout has passed.
 */
export async function escalateDueAlerts(
  db: Database<ContentDatabase>,
  outbox: Outbox,
  { ackTimeoutSeconds, signal, limit = 1_000 }: EscalationOptions,
): Promise<{ escalated: number }> {
  let escalated = 0;
  while (escalated < limit && signal?.aborted !== true) {
    const stepped = await db.transaction(
      async (trx) => {
        const due = await trx
          .selectFrom("sos_alert")
          .selectAll()
          .where("status", "in", ["raised", "escalated"])
          .where("escalation_stage", "!=", "platform_on_call")
          .where(
            "stage_changed_at",
            "<=",
            sql<Date>`now() - make_interval(secs => ${ackTimeoutSeconds})`,
          )
          .orderBy("stage_changed_at")
          .limit(1)
          .forUpdate()
          .skipLocked()
          .executeTakeFirst();
        if (due === undefined) return false;
        const stage = nextStage(due.escalation_stage);
        if (stage === undefined) return false;
        const alert = await trx
          .updateTable("sos_alert")
          .set({ escalation_stage: stage, status: "escalated", stage_changed_at: sql`now()` })
          .where("id", "=", due.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        await outbox.enqueue(
          trx,
          contentEvents.sosEscalated,
          {
            alertId: alert.id,
            circleId: alert.circle_id,
            raisedBy: alert.raised_by,
            stage: escalationStageOf(stage),
            escalatedAt: timestampFromDate(alert.stage_changed_at),
          },
          { actorId, aggregateId: alert.id },
        );
        return true;
      },
      { idempotent: true },
    );
    if (!stepped) break;
    escalated++;
  }
  return { escalated };
}
