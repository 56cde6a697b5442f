import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

export type PlatformName = "ios" | "android";
export type KindName = "response" | "sos" | "moderation_decision" | "circle_invite";
export type SubjectKind = "response" | "sos" | "decision";
export type CircleRoleName = "owner" | "moderator" | "member";
export type DeliveryStatus = "queued" | "sent" | "failed" | "dropped";

/** The tables of `kindred_notifier`, as Kysely sees them. */
export interface NotifierDatabase extends EventTables {
  /** What the notifier decided about one new post, and why (posts are not pushed). */
  delivery_decision: {
    event_id: string;
    event_type: string;
    circle_id: string;
    subject_id: string;
    decision: "push" | "skip";
    reason: string;
    decided_at: Generated<Date>;
  };
  /** A device registered for pushes; its token is unique across users. */
  device: {
    id: string;
    user_id: string;
    platform: PlatformName;
    token: string;
    locale: string;
    app_version: string;
    created_at: Generated<Date>;
    last_seen_at: Generated<Date>;
  };
  /** A kind the user set; kinds without a row are enabled. */
  preference: {
    user_id: string;
    kind: KindName;
    push_enabled: boolean;
    updated_at: Generated<Date>;
  };
  quiet_hours: {
    user_id: string;
    enabled: boolean;
    start_minute: number;
    end_minute: number;
    time_zone: string;
    updated_at: Generated<Date>;
  };
  /** Circle memberships from circles' events, applied by circle version; leaving is a tombstone. */
  circle_member: {
    circle_id: string;
    user_id: string;
    role: CircleRoleName;
    circle_version: string;
    left_at: Date | null;
  };
  /** Blocks from identity's events; the later change wins, an unblock keeps its row. */
  block: {
    blocker_id: string;
    blocked_id: string;
    blocked: boolean;
    changed_at: Date;
  };
  /** The latest suspension, ban or lift of an account, from moderation's decisions. */
  account_restriction: {
    user_id: string;
    kind: "suspended" | "banned" | "lifted";
    /** When a suspension or time-limited ban ends; null: until lifted. */
    restricted_until: Date | null;
    case_id: string | null;
    decided_at: Date;
  };
  /** SOS alerts that were resolved: no more pushes about them. */
  sos_alert: {
    alert_id: string;
    resolved_at: Date;
  };
  /** One push-worthy event for one recipient, and what became of it. */
  notification: {
    id: string;
    user_id: string;
    kind: KindName;
    event_id: string;
    subject_kind: SubjectKind;
    subject_id: string;
    /** The post a response notification is about (dropped with it). */
    post_id: string | null;
    /** Who caused it (the responder, the raiser); null for moderation decisions. */
    actor_id: string | null;
    circle_id: string | null;
    status: DeliveryStatus;
    reason: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  /** One notification to one device: queued, leased while sent, then sent, failed or dropped. */
  delivery: {
    id: string;
    notification_id: string;
    device_id: string;
    status: Generated<DeliveryStatus>;
    attempts: Generated<number>;
    next_attempt_at: Generated<Date>;
    lease_until: Date | null;
    /** The provider's last answer when it asked to retry. */
    last_error: string | null;
    /** Why it ended failed or dropped. */
    reason: string | null;
    provider_id: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
}
