import {
  type CasePriority,
  DecisionAction,
  CaseScope as EventCaseScope,
  TargetKind as EventTargetKind,
} from "@kindred/proto/moderation/events/v1";
import {
  Action,
  AppealStatus,
  CaseScope,
  LogEntryKind,
  MatchSource,
  ReportReason,
  RuleOutcome,
  TargetKind,
} from "@kindred/proto/moderation/v1";
import type {
  ActionName,
  AppealStatusName,
  LogKindName,
  MatchSourceName,
  OutcomeName,
  ScopeName,
  TargetKindName,
} from "./db/schema.ts";
import type { ReasonName, Severity } from "./rules/types.ts";

export type { ReasonName };

/**
 * The names moderation stores (lower-case text in its tables) and the protobuf enums of its API
 * and events. Requests are validated (defined, not unspecified) before they get here.
 */
const reasons: Record<ReasonName, ReportReason> = {
  self_harm: ReportReason.SELF_HARM,
  harassment: ReportReason.HARASSMENT,
  hate: ReportReason.HATE,
  spam: ReportReason.SPAM,
  sexual_content: ReportReason.SEXUAL_CONTENT,
  violence: ReportReason.VIOLENCE,
  impersonation: ReportReason.IMPERSONATION,
  other: ReportReason.OTHER,
};

/** Most severe first: a case's reason is the most severe of its reports' and matches'. */
const reasonRank: readonly ReasonName[] = [
  "self_harm",
  "violence",
  "hate",
  "harassment",
  "sexual_content",
  "impersonation",
  "spam",
  "other",
];

export const reasonToProto = (name: string): ReportReason =>
  reasons[name as ReasonName] ?? ReportReason.OTHER;

export function reasonFromProto(value: ReportReason): ReasonName {
  const entry = Object.entries(reasons).find(([, v]) => v === value);
  return (entry?.[0] as ReasonName | undefined) ?? "other";
}

export function moreSevereReason(a: string, b: string): string {
  const rank = (r: string) => {
    const i = reasonRank.indexOf(r as ReasonName);
    return i === -1 ? reasonRank.length : i;
  };
  return rank(b) < rank(a) ? b : a;
}

const targetKinds: Record<TargetKindName, TargetKind> = {
  post: TargetKind.POST,
  response: TargetKind.RESPONSE,
  user: TargetKind.USER,
  circle: TargetKind.CIRCLE,
};
const eventTargetKinds: Record<TargetKindName, EventTargetKind> = {
  post: EventTargetKind.POST,
  response: EventTargetKind.RESPONSE,
  user: EventTargetKind.USER,
  circle: EventTargetKind.CIRCLE,
};

export const targetKindToProto = (name: TargetKindName) => targetKinds[name];
export const targetKindToEvent = (name: TargetKindName) => eventTargetKinds[name];
export function targetKindFromProto(value: TargetKind): TargetKindName {
  const entry = Object.entries(targetKinds).find(([, v]) => v === value);
  if (entry === undefined) throw new TypeError(`unvalidated target kind ${value}`);
  return entry[0] as TargetKindName;
}

const actions: Record<ActionName, Action> = {
  dismiss: Action.DISMISS,
  remove_content: Action.REMOVE_CONTENT,
  warn: Action.WARN,
  suspend: Action.SUSPEND,
  ban: Action.BAN,
  restrict_sos: Action.RESTRICT_SOS,
};
const eventActions: Record<ActionName, DecisionAction> = {
  dismiss: DecisionAction.DISMISS,
  remove_content: DecisionAction.REMOVE_CONTENT,
  warn: DecisionAction.WARN,
  suspend: DecisionAction.SUSPEND,
  ban: DecisionAction.BAN,
  restrict_sos: DecisionAction.RESTRICT_SOS,
};
export const actionToProto = (name: ActionName) => actions[name];
export const actionToEvent = (name: ActionName) => eventActions[name];
export function actionFromProto(value: Action): ActionName {
  const entry = Object.entries(actions).find(([, v]) => v === value);
  if (entry === undefined) throw new TypeError(`unvalidated action ${value}`);
  return entry[0] as ActionName;
}

export const scopeToProto = (name: ScopeName) =>
  name === "circle" ? CaseScope.CIRCLE : CaseScope.PLATFORM;
export const scopeToEvent = (name: ScopeName) =>
  name === "circle" ? EventCaseScope.CIRCLE : EventCaseScope.PLATFORM;

/** Priorities are stored as 1 (low) … 4 (critical), the values of both enums. */
export const priorityToEvent = (value: number): CasePriority => value as CasePriority;
export const criticalPriority = 4;
export const highPriority = 3;
export const normalPriority = 2;

const severities: Record<Severity, number> = { low: 1, medium: 2, high: 3, critical: 4 };
export const severityRank = (name: Severity): number => severities[name];

const outcomes: Record<OutcomeName, RuleOutcome> = {
  allow: RuleOutcome.ALLOW,
  flag: RuleOutcome.FLAG,
  hide: RuleOutcome.HIDE,
};
export const outcomeToProto = (name: OutcomeName) => outcomes[name];

const sources: Record<MatchSourceName, MatchSource> = {
  rule: MatchSource.RULE,
  classifier: MatchSource.CLASSIFIER,
  report_threshold: MatchSource.REPORT_THRESHOLD,
};
export const sourceToProto = (name: MatchSourceName) => sources[name];

const appealStatuses: Record<AppealStatusName, AppealStatus> = {
  pending: AppealStatus.PENDING,
  upheld: AppealStatus.UPHELD,
  overturned: AppealStatus.OVERTURNED,
};
export const appealStatusToProto = (name: AppealStatusName) => appealStatuses[name];

const logKinds: Record<LogKindName, LogEntryKind> = {
  case_opened: LogEntryKind.CASE_OPENED,
  report_added: LogEntryKind.REPORT_ADDED,
  claimed: LogEntryKind.CLAIMED,
  claim_expired: LogEntryKind.CLAIM_EXPIRED,
  escalated: LogEntryKind.ESCALATED,
  resolved: LogEntryKind.RESOLVED,
  appeal_filed: LogEntryKind.APPEAL_FILED,
  appeal_resolved: LogEntryKind.APPEAL_RESOLVED,
  reporter_muted: LogEntryKind.REPORTER_MUTED,
  reporter_unmuted: LogEntryKind.REPORTER_UNMUTED,
};
export const logKindToProto = (name: LogKindName) => logKinds[name];
