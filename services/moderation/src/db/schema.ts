import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

export type ContentKind = "post" | "response";
export type TargetKindName = ContentKind | "user" | "circle";
export type CaseStatusName = "open" | "escalated" | "resolved";
export type ScopeName = "circle" | "platform";
export type CircleRoleName = "owner" | "moderator" | "member";
export type OutcomeName = "allow" | "flag" | "hide";
export type MatchSourceName = "rule" | "classifier" | "report_threshold";
export type ActionName = "dismiss" | "remove_content" | "warn" | "suspend" | "ban" | "restrict_sos";
export type AppealStatusName = "pending" | "upheld" | "overturned";
export type LogKindName =
  | "case_opened"
  | "report_added"
  | "claimed"
  | "claim_expired"
  | "escalated"
  | "resolved"
  | "appeal_filed"
  | "appeal_resolved"
  | "reporter_muted"
  | "reporter_unmuted";

/** The tables of `kindred_moderation`, as Kysely sees them. */
export interface ModerationDatabase extends EventTables {
  /** Posts and responses as content's events described them. */
  content_item: {
    content_kind: ContentKind;
    content_id: string;
    post_id: string;
    circle_id: string;
    author_id: string;
    body: string;
    fingerprint: string;
    created_at: Date;
    updated_at: Date;
    version: Generated<string>;
  };
  /** Content waiting for the scanner, leased while it is scanned. */
  scan_item: {
    event_id: string;
    content_kind: ContentKind;
    content_id: string;
    body: string;
    status: Generated<"pending" | "scanned" | "failed">;
    attempts: Generated<number>;
    lease_until: Date | null;
    received_at: Generated<Date>;
    scanned_at: Date | null;
  };
  account: {
    user_id: string;
    display_name: Generated<string>;
    created_at: Date | null;
    deleted_at: Date | null;
  };
  circle_info: {
    circle_id: string;
    name: Generated<string>;
    description: Generated<string>;
    version: Generated<string>;
    archived_at: Date | null;
  };
  circle_role: {
    circle_id: string;
    user_id: string;
    role: CircleRoleName;
    circle_version: string;
    left_at: Date | null;
  };
  mod_case: {
    id: string;
    target_kind: TargetKindName;
    target_id: string;
    post_id: string | null;
    circle_id: string | null;
    subject_user_id: string | null;
    snapshot_text: Generated<string>;
    snapshot_at: Generated<Date>;
    status: Generated<CaseStatusName>;
    scope: ScopeName;
    /** 1 low … 4 critical. */
    priority: number;
    reason: string;
    assignee_id: string | null;
    claim_expires_at: Date | null;
    /** Who held the last claim the sweep ended. */
    expired_claim_by: Generated<string | null>;
    report_count: Generated<number>;
    hidden: Generated<boolean>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    resolved_at: Date | null;
  };
  report: {
    id: string;
    case_id: string | null;
    reporter_id: string;
    target_kind: TargetKindName;
    target_id: string;
    reason: string;
    details: Generated<string>;
    open: Generated<boolean>;
    created_at: Generated<Date>;
  };
  rule_match: {
    id: Generated<string>;
    target_kind: TargetKindName;
    target_id: string;
    rule_id: string;
    source: MatchSourceName;
    /** 0 unspecified, 1 low … 4 critical. */
    severity: number;
    outcome: OutcomeName;
    reason: string;
    detail: Generated<string>;
    matched_at: Generated<Date>;
  };
  moderation_log: {
    id: string;
    kind: LogKindName;
    case_id: string | null;
    circle_id: string | null;
    actor_id: string | null;
    user_id: string | null;
    note: Generated<string>;
    occurred_at: Generated<Date>;
  };
  decision: {
    id: string;
    case_id: string;
    action: ActionName;
    affected_user_id: string | null;
    target_kind: TargetKindName;
    target_id: string;
    note: string;
    moderator_id: string;
    decided_at: Generated<Date>;
    expires_at: Date | null;
    appealable_until: Date | null;
    reversed_at: Date | null;
  };
  appeal: {
    id: string;
    decision_id: string;
    appellant_id: string;
    statement: string;
    status: Generated<AppealStatusName>;
    resolution_note: Generated<string>;
    resolved_by: string | null;
    created_at: Generated<Date>;
    resolved_at: Date | null;
  };
  reporter_mute: {
    user_id: string;
    muted_until: Date | null;
    muted_by: string;
    note: string;
    created_at: Generated<Date>;
  };
  evidence_hold: {
    case_id: string;
    target_kind: TargetKindName;
    target_id: string;
    release_at: Date | null;
    released_at: Date | null;
  };
}
