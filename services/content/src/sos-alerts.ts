import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AcknowledgementSchema,
  EscalationStage,
  type SosAlert,
  SosAlertSchema,
  SosStatus,
} from "@kindred/proto/content/v1";
import type { Kysely, Selectable } from "kysely";
import type { ContentDatabase, EscalationStageName, SosStatusName } from "./db/schema.ts";

export type AlertRow = Selectable<ContentDatabase["sos_alert"]>;
export type AcknowledgementRow = Selectable<ContentDatabase["sos_acknowledgement"]>;

const statuses: Record<SosStatusName, SosStatus> = {
  raised: SosStatus.RAISED,
  acknowledged: SosStatus.ACKNOWLEDGED,
  escalated: SosStatus.ESCALATED,
  resolved: SosStatus.RESOLVED,
};

const stages: Record<EscalationStageName, EscalationStage> = {
  circle: EscalationStage.CIRCLE,
  second_wave: EscalationStage.SECOND_WAVE,
  circle_moderators: EscalationStage.CIRCLE_MODERATORS,
  platform_on_call: EscalationStage.PLATFORM_ON_CALL,
};

/** The stages in order: an unacknowledged alert moves one step per timeout. */
const stageOrder: readonly EscalationStageName[] = [
  "circle",
  "second_wave",
  "circle_moderators",
  "platform_on_call",
];

/** The stage after `stage`; `undefined` at the last one. */
export function nextStage(stage: EscalationStageName): EscalationStageName | undefined {
  return stageOrder[stageOrder.indexOf(stage) + 1];
}

export const escalationStageOf = (name: EscalationStageName): EscalationStage => stages[name];

export function findAlert(
  db: Kysely<ContentDatabase>,
  alertId: string,
): Promise<AlertRow | undefined> {
  return db.selectFrom("sos_alert").selectAll().where("id", "=", alertId).executeTakeFirst();
}

/** The acknowledgements of each alert, oldest first. */
export async function acknowledgementsOf(
  db: Kysely<ContentDatabase>,
  alertIds: readonly string[],
): Promise<Map<string, AcknowledgementRow[]>> {
  const byAlert = new Map<string, AcknowledgementRow[]>();
  if (alertIds.length === 0) return byAlert;
  const rows = await db
    .selectFrom("sos_acknowledgement")
    .selectAll()
    .where("alert_id", "in", alertIds)
    .orderBy("acknowledged_at")
    .orderBy("user_id")
    .execute();
  for (const row of rows) {
    const list = byAlert.get(row.alert_id) ?? [];
    list.push(row);
    byAlert.set(row.alert_id, list);
  }
  return byAlert;
}

/**
 * The alert as a caller sees it. `messageVisible` is false across a block between the caller
 * and the raiser (ADR 13): the alert itself reaches every member, the raiser's words do not.
 */
export function toSosAlert(
  row: AlertRow,
  acknowledgements: readonly AcknowledgementRow[],
  { messageVisible }: { messageVisible: boolean },
): SosAlert {
  return create(SosAlertSchema, {
    id: row.id,
    circleId: row.circle_id,
    raisedBy: row.raised_by,
    ...(row.message === null || !messageVisible ? {} : { message: row.message }),
    status: statuses[row.status],
    escalationStage: stages[row.escalation_stage],
    acknowledgements: acknowledgements.map((ack) =>
      create(AcknowledgementSchema, {
        userId: ack.user_id,
        acknowledgedAt: timestampFromDate(ack.acknowledged_at),
      }),
    ),
    createdAt: timestampFromDate(row.created_at),
    ...(row.resolved_at === null ? {} : { resolvedAt: timestampFromDate(row.resolved_at) }),
  });
}
