import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Appeal,
  AppealSchema,
  type Case,
  CaseSchema,
  CaseStatus,
  type Decision,
  DecisionSchema,
  type LogEntry,
  LogEntrySchema,
  type Priority,
  type Report,
  ReportSchema,
  type RuleMatch,
  RuleMatchSchema,
  type Severity,
} from "@kindred/proto/moderation/v1";
import type { Selectable } from "kysely";
import type { CaseRow } from "./access.ts";
import type { ModerationDatabase } from "./db/schema.ts";
import {
  actionToProto,
  appealStatusToProto,
  logKindToProto,
  outcomeToProto,
  reasonToProto,
  scopeToProto,
  sourceToProto,
  targetKindToProto,
} from "./names.ts";

type Row<T extends keyof ModerationDatabase> = Selectable<ModerationDatabase[T]>;
export type DecisionRow = Row<"decision">;
export type AppealRow = Row<"appeal">;

/** A case's status as clients see it: a live claim shows as claimed. */
export function caseStatusOf(row: CaseRow, now: Date): CaseStatus {
  if (row.status === "resolved") return CaseStatus.RESOLVED;
  if (row.claim_expires_at !== null && row.claim_expires_at.getTime() > now.getTime()) {
    return CaseStatus.CLAIMED;
  }
  return row.status === "escalated" ? CaseStatus.ESCALATED : CaseStatus.OPEN;
}

export interface CaseDetails {
  reports?: Row<"report">[];
  matches?: Row<"rule_match">[];
  history?: Row<"moderation_log">[];
  decision?: DecisionRow | undefined;
}

export function toCase(row: CaseRow, now: Date, details: CaseDetails = {}): Case {
  const live = row.claim_expires_at !== null && row.claim_expires_at.getTime() > now.getTime();
  return create(CaseSchema, {
    id: row.id,
    target: { kind: targetKindToProto(row.target_kind), id: row.target_id },
    snapshot: {
      userId: row.subject_user_id ?? "",
      circleId: row.circle_id ?? "",
      text: row.snapshot_text,
      capturedAt: timestampFromDate(row.snapshot_at),
    },
    status: caseStatusOf(row, now),
    scope: scopeToProto(row.scope),
    priority: row.priority as Priority,
    reason: reasonToProto(row.reason),
    circleId: row.circle_id ?? "",
    assigneeId: live ? (row.assignee_id ?? "") : "",
    ...(live && row.claim_expires_at !== null
      ? { claimExpiresAt: timestampFromDate(row.claim_expires_at) }
      : {}),
    reportCount: row.report_count,
    reports: (details.reports ?? []).map(toReport),
    ruleMatches: (details.matches ?? []).map(toRuleMatch),
    history: (details.history ?? []).map(toLogEntry),
    ...(details.decision === undefined ? {} : { decision: toDecision(details.decision) }),
    createdAt: timestampFromDate(row.created_at),
    updatedAt: timestampFromDate(row.updated_at),
  });
}

export function toReport(row: Row<"report">): Report {
  return create(ReportSchema, {
    id: row.id,
    reporterId: row.reporter_id,
    target: { kind: targetKindToProto(row.target_kind), id: row.target_id },
    reason: reasonToProto(row.reason),
    details: row.details,
    caseId: row.case_id ?? "",
    createdAt: timestampFromDate(row.created_at),
  });
}

export function toRuleMatch(row: Row<"rule_match">): RuleMatch {
  return create(RuleMatchSchema, {
    ruleId: row.rule_id,
    source: sourceToProto(row.source),
    severity: row.severity as Severity,
    outcome: outcomeToProto(row.outcome),
    detail: row.detail,
    matchedAt: timestampFromDate(row.matched_at),
  });
}

export function toLogEntry(row: Row<"moderation_log">): LogEntry {
  return create(LogEntrySchema, {
    id: row.id,
    kind: logKindToProto(row.kind),
    caseId: row.case_id ?? "",
    actorId: row.actor_id ?? "",
    userId: row.user_id ?? "",
    note: row.note,
    occurredAt: timestampFromDate(row.occurred_at),
  });
}

/** `forAffectedUser` leaves out who decided: moderators stay anonymous to the people they judge. */
export function toDecision(row: DecisionRow, { forAffectedUser = false } = {}): Decision {
  return create(DecisionSchema, {
    id: row.id,
    caseId: row.case_id,
    action: actionToProto(row.action),
    affectedUserId: row.affected_user_id ?? "",
    target: { kind: targetKindToProto(row.target_kind), id: row.target_id },
    note: row.note,
    moderatorId: forAffectedUser ? "" : row.moderator_id,
    decidedAt: timestampFromDate(row.decided_at),
    ...(row.expires_at === null ? {} : { expiresAt: timestampFromDate(row.expires_at) }),
  });
}

export function toAppeal(row: AppealRow): Appeal {
  return create(AppealSchema, {
    id: row.id,
    decisionId: row.decision_id,
    appellantId: row.appellant_id,
    statement: row.statement,
    status: appealStatusToProto(row.status),
    resolutionNote: row.resolution_note,
    createdAt: timestampFromDate(row.created_at),
    ...(row.resolved_at === null ? {} : { resolvedAt: timestampFromDate(row.resolved_at) }),
  });
}
