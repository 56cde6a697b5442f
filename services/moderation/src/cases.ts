import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { moderationEvents } from "@kindred/event-catalog";
import { newEventId, type Outbox } from "@kindred/events";
import type { Transaction } from "kysely";
import type { CaseRow } from "./access.ts";
import { writeLog } from "./case-log.ts";
import type { ModerationDatabase, ScopeName, TargetKindName } from "./db/schema.ts";
import {
  criticalPriority,
  moreSevereReason,
  priorityToEvent,
  scopeToEvent,
  targetKindToEvent,
} from "./names.ts";
import { isContent, type TargetInfo } from "./targets.ts";

type Trx = Transaction<ModerationDatabase>;

/** Something that puts a target in the queue: a report, or a match of the pipeline. */
export interface CaseSignal {
  target: TargetInfo;
  /** 1 low … 4 critical. */
  priority: number;
  reason: string;
  /** Needs platform moderators (crisis signals, reports past the threshold). */
  platform: boolean;
  /** Hide the content until a moderator reviews the case (a `hide` rule). */
  hide?: { ruleIds: string[] };
  /** What the log says about it. */
  note: string;
}

/**
 * Where a new case goes: circle moderators handle what happens in their circle; users,
 * circles and crisis signals go to platform moderators (ADR 16).
 */
function scopeFor(signal: CaseSignal): ScopeName {
  const { target } = signal;
  if (signal.platform || signal.priority >= criticalPriority) return "platform";
  if (!isContent(target.kind) || target.circleId === null) return "platform";
  return "circle";
}

/** The case's target as the events carry it. */
export function caseTarget(row: {
  target_kind: TargetKindName;
  target_id: string;
  post_id: string | null;
  circle_id: string | null;
  subject_user_id: string | null;
}) {
  return {
    kind: targetKindToEvent(row.target_kind),
    id: row.target_id,
    postId: row.post_id ?? "",
    circleId: row.circle_id ?? "",
    userId: row.subject_user_id ?? "",
  };
}

/**
 * Opens a case for the signal's target, or adds the signal to the target's open case: a higher
 * priority, a more severe reason or platform scope raise the case (an automatic escalation,
 * which pages on-call moderators when it turns critical). Every change is logged and published
 * through the outbox in the caller's transaction.
 */
export async function openOrJoinCase(
  trx: Trx,
  outbox: Outbox,
  signal: CaseSignal,
  now: Date,
): Promise<{ row: CaseRow; created: boolean }> {
  const { target } = signal;
  const scope = scopeFor(signal);
  const inserted = await trx
    .insertInto("mod_case")
    .values({
      id: newEventId(),
      target_kind: target.kind,
      target_id: target.id,
      post_id: target.postId,
      circle_id: target.circleId,
      subject_user_id: target.userId,
      snapshot_text: target.text,
      snapshot_at: now,
      status: "open",
      scope,
      priority: signal.priority,
      reason: signal.reason,
      assignee_id: null,
      claim_expires_at: null,
      resolved_at: null,
    })
    .onConflict((oc) =>
      oc.columns(["target_kind", "target_id"]).where("status", "<>", "resolved").doNothing(),
    )
    .returningAll()
    .executeTakeFirst();
  if (inserted !== undefined) {
    await onOpened(trx, outbox, inserted, signal, now);
    return { row: inserted, created: true };
  }
  const open = await trx
    .selectFrom("mod_case")
    .selectAll()
    .where("target_kind", "=", target.kind)
    .where("target_id", "=", target.id)
    .where("status", "<>", "resolved")
    .forUpdate()
    .executeTakeFirstOrThrow();
  const row = await raiseCase(trx, outbox, open, {
    priority: signal.priority,
    reason: signal.reason,
    platform: scope === "platform",
    automatic: true,
    actorId: null,
    note: signal.note,
    now,
  });
  if (signal.hide !== undefined)
    return { row: await hide(trx, outbox, row, signal.hide, now), created: false };
  return { row, created: false };
}

async function onOpened(trx: Trx, outbox: Outbox, row: CaseRow, signal: CaseSignal, now: Date) {
  const enqueue = { actorId: "system:moderation", aggregateId: row.id, occurredAt: now };
  await writeLog(trx, {
    kind: "case_opened",
    caseId: row.id,
    circleId: row.circle_id,
    actorId: null,
    userId: row.subject_user_id,
    note: signal.note,
  });
  await outbox.enqueue(
    trx,
    moderationEvents.caseOpened,
    {
      caseId: row.id,
      target: caseTarget(row),
      priority: priorityToEvent(row.priority),
      scope: scopeToEvent(row.scope),
      reason: row.reason,
      openedAt: timestampFromDate(row.created_at),
    },
    enqueue,
  );
  if (isContent(row.target_kind)) {
    await trx
      .insertInto("evidence_hold")
      .values({
        case_id: row.id,
        target_kind: row.target_kind,
        target_id: row.target_id,
        release_at: null,
        released_at: null,
      })
      .execute();
  }
  if (signal.hide !== undefined) await hide(trx, outbox, row, signal.hide, now);
}

/** Hides the case's content until its decision (a `hide` rule); once per case. */
async function hide(trx: Trx, outbox: Outbox, row: CaseRow, how: { ruleIds: string[] }, now: Date) {
  if (row.hidden || !isContent(row.target_kind)) return row;
  const updated = await trx
    .updateTable("mod_case")
    .set({ hidden: true, updated_at: now })
    .where("id", "=", row.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await outbox.enqueue(
    trx,
    moderationEvents.contentHidden,
    {
      caseId: row.id,
      target: caseTarget(row),
      ruleIds: how.ruleIds,
      hiddenAt: timestampFromDate(now),
    },
    { actorId: "system:moderation", aggregateId: row.id, occurredAt: now },
  );
  return updated;
}

export interface Raise {
  priority: number;
  reason: string;
  /** Move the case to platform scope. */
  platform: boolean;
  automatic: boolean;
  actorId: string | null;
  note: string;
  now: Date;
}

/**
 * Raises an open case's priority, reason or scope. Moving to platform scope (an escalation)
 * drops a circle moderator's claim, since they can no longer see the case. A raise that turns
 * the case critical or platform-scoped is an escalation: logged and published, so on-call
 * moderators are paged for a critical one.
 */
export async function raiseCase(trx: Trx, outbox: Outbox, row: CaseRow, raise: Raise) {
  const priority = Math.max(row.priority, raise.priority);
  const reason = moreSevereReason(row.reason, raise.reason);
  const toPlatform = raise.platform && row.scope === "circle";
  const escalation =
    toPlatform || (priority >= criticalPriority && row.priority < criticalPriority);
  if (priority === row.priority && reason === row.reason && !toPlatform) return row;
  const updated = await trx
    .updateTable("mod_case")
    .set({
      priority,
      reason,
      updated_at: raise.now,
      ...(toPlatform
        ? { scope: "platform", status: "escalated", assignee_id: null, claim_expires_at: null }
        : {}),
    })
    .where("id", "=", row.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  if (escalation) {
    await writeLog(trx, {
      kind: "escalated",
      caseId: row.id,
      circleId: row.circle_id,
      actorId: raise.actorId,
      userId: row.subject_user_id,
      note: raise.note,
    });
    await outbox.enqueue(
      trx,
      moderationEvents.caseEscalated,
      {
        caseId: row.id,
        target: caseTarget(updated),
        priority: priorityToEvent(updated.priority),
        scope: scopeToEvent(updated.scope),
        reason: updated.reason,
        automatic: raise.automatic,
        escalatedAt: timestampFromDate(raise.now),
      },
      {
        actorId: raise.actorId ?? "system:moderation",
        aggregateId: row.id,
        occurredAt: raise.now,
      },
    );
  }
  return updated;
}
