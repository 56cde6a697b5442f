import type { EventTables } from "@kindred/events";
import type { GeneratedAlways } from "kysely";

export type VisibilityName = "open" | "invite_only";
export type CircleRoleName = "owner" | "moderator" | "member";

/** The tables of `kindred_circles`, as Kysely sees them (see `migrations.ts`). */
export interface CirclesDatabase extends EventTables {
  circle: {
    id: string;
    name: string;
    description: string;
    visibility: VisibilityName;
    member_count: number;
    /** bigint: pg returns it as a string. */
    version: string;
    created_by: string;
    created_at: Date;
    updated_at: Date;
    archived_at: Date | null;
    archived_by: string | null;
  };
  circle_member: {
    circle_id: string;
    user_id: string;
    role: CircleRoleName;
    role_rank: GeneratedAlways<number>;
    joined_at: Date;
  };
  circle_invite: {
    id: string;
    circle_id: string;
    code_hash: Buffer;
    created_by: string;
    max_uses: number | null;
    uses: number;
    expires_at: Date | null;
    created_at: Date;
    revoked_at: Date | null;
    revoked_by: string | null;
  };
  circle_ban: {
    circle_id: string;
    user_id: string;
    banned_by: string;
    reason: string;
    created_at: Date;
    expires_at: Date | null;
  };
  circle_audit: {
    id: string;
    circle_id: string;
    kind: string;
    /** Null when circles acted on its own (reacting to another service's event). */
    actor_id: string | null;
    user_id: string | null;
    occurred_at: Date;
    request_id: string;
    details: Record<string, string>;
  };
  /**
   * Platform bans from moderation's account decisions (the latest decision per user), so an
   * owner's successor is never picked among banned accounts while others are left.
   */
  account_ban: {
    user_id: string;
    banned: boolean;
    case_id: string;
    decided_at: Date;
  };
}
