import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

/** Why a post or response was removed, as stored (`RemovalReason` of the events, by name). */
export type RemovalReasonName = "author" | "circle_moderator" | "moderation" | "account_deleted";

/** A member's role inside one circle, as stored (circles' `CircleRole`, by name). */
export type CircleRoleName = "owner" | "moderator" | "member";

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
}
