import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

/** Why a post or response was removed, as stored (`RemovalReason` of the events, by name). */
export type RemovalReasonName = "author" | "circle_moderator" | "moderation" | "account_deleted";

/** A member's role inside one circle, as stored (circles' `CircleRole`, by name). */
export type CircleRoleName = "owner" | "moderator" | "member";

/** Where an SOS alert stands, as stored (`SosStatus`, by name). */
export type SosStatusName = "raised" | "acknowledged" | "escalated" | "resolved";

/** How far an SOS alert has been escalated, as stored (`EscalationStage`, by name). */
export type EscalationStageName =
  | "circle"
  | "second_wave"
  | "circle_moderators"
  | "platform_on_call";

/** The tables of `kindred_content`, as Kysely sees them. */
export interface ContentDatabase extends EventTables {
  post: {
    id: string;
    circle_id: string;
    author_id: string;
    body: string;
    content_warning: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    expires_at: Date | null;
    version: Generated<string>;
    deleted_at: Date | null;
    removed_by: Generated<string | null>;
    removal_reason: Generated<RemovalReasonName | null>;
    /** The moderation case that hides it for review: shown to its author only (ADR 15). */
    hidden_by_case: Generated<string | null>;
    hidden_at: Generated<Date | null>;
    /** The moderation case whose decision removed it: a reversal of that decision restores it. */
    removed_by_case: Generated<string | null>;
  };
  response: {
    id: string;
    post_id: string;
    author_id: string;
    body: string;
    created_at: Generated<Date>;
    deleted_at: Generated<Date | null>;
    removed_by: Generated<string | null>;
    removal_reason: Generated<RemovalReasonName | null>;
    /** See `post`. */
    hidden_by_case: Generated<string | null>;
    hidden_at: Generated<Date | null>;
    removed_by_case: Generated<string | null>;
  };
  /** Projection of circles' events: the circles content has heard of. */
  circle_state: {
    circle_id: string;
    /** circle_version of the last circle-level event applied; 0 if only member events. */
    version: string;
    archived_at: Date | null;
    updated_at: Generated<Date>;
  };
  /** Projection of circles' member events; `left_at` set is a former member (a tombstone). */
  circle_member: {
    circle_id: string;
    user_id: string;
    role: CircleRoleName;
    circle_version: string;
    left_at: Date | null;
    updated_at: Generated<Date>;
  };
  /** Projection of identity's block events; `blocked = false` is a lifted block (a tombstone). */
  user_block: {
    blocker_id: string;
    blocked_id: string;
    blocked: boolean;
    changed_at: Date;
  };
  /** Content under an open moderation case: never purged while a row exists (issue 6). */
  evidence_hold: {
    content_kind: "post" | "response";
    content_id: string;
    case_id: string;
    held_at: Generated<Date>;
  };
  /**
   * Projection of moderation's case events about a post or response (ADR 15): what content has
   * heard of each case, whatever order its events arrived in.
   */
  moderation_case: {
    case_id: string;
    content_kind: "post" | "response";
    content_id: string;
    /** `moderation.content.hidden.v1` arrived: hidden until the case is decided. */
    hidden_at: Date | null;
    /** The case's decision (`moderation.decision.made.v1`). */
    decision_id: string | null;
    /** `DecisionAction` by lower-case name: `remove_content`, `dismiss`, `warn`, … */
    decision: string | null;
    /** The moderator who decided (the event's actor), when it is a user. */
    decided_by: string | null;
    decided_at: Date | null;
    /** The decision an appeal overturned (`moderation.decision.reversed.v1`). */
    reversed_decision_id: string | null;
    /** `moderation.evidence.released.v1` arrived: the case no longer holds the content. */
    released_at: Date | null;
  };
  /** SOS alerts (ADR 13). */
  sos_alert: {
    id: string;
    circle_id: string;
    raised_by: string;
    message: string | null;
    status: Generated<SosStatusName>;
    escalation_stage: Generated<EscalationStageName>;
    created_at: Generated<Date>;
    /** When the alert reached its current escalation stage. */
    stage_changed_at: Generated<Date>;
    resolved_at: Generated<Date | null>;
    resolved_by: Generated<string | null>;
  };
  /** "I'm here": one row per member and alert. */
  sos_acknowledgement: {
    alert_id: string;
    user_id: string;
    acknowledged_at: Generated<Date>;
  };
  /** Projection of moderation's SOS restrictions; `restricted = false` is a lifted one. */
  sos_restriction: {
    user_id: string;
    restricted: boolean;
    /** End of the restriction; `null` while restricted means permanent. */
    until: Date | null;
    case_id: string;
    decided_at: Date;
  };
}
