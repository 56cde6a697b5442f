import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DomainError } from "@kindred/errors";
import {
  type Ban,
  BanSchema,
  type Circle,
  CircleRole,
  CircleSchema,
  type Invite,
  InviteSchema,
  type Member,
  MemberSchema,
  Visibility,
} from "@kindred/proto/circles/v1";
import type { Selectable } from "kysely";
import type { CircleRoleName, CirclesDatabase, VisibilityName } from "./db/schema.ts";

export type CircleRow = Selectable<CirclesDatabase["circle"]>;
export type MemberRow = Selectable<CirclesDatabase["circle_member"]>;
export type InviteRow = Selectable<CirclesDatabase["circle_invite"]>;
export type BanRow = Selectable<CirclesDatabase["circle_ban"]>;

const visibilities: Record<VisibilityName, Visibility> = {
  open: Visibility.OPEN,
  invite_only: Visibility.INVITE_ONLY,
};

const roles: Record<CircleRoleName, CircleRole> = {
  owner: CircleRole.OWNER,
  moderator: CircleRole.MODERATOR,
  member: CircleRole.MEMBER,
};

export const visibilityToProto = (name: VisibilityName): Visibility => visibilities[name];
export const roleToProto = (name: CircleRoleName): CircleRole => roles[name];

/** Requests are validated (defined, not unspecified) before they get here. */
export function visibilityFromProto(value: Visibility): VisibilityName {
  if (value === Visibility.OPEN) return "open";
  if (value === Visibility.INVITE_ONLY) return "invite_only";
  throw new DomainError("invalid_argument", "visibility must be OPEN or INVITE_ONLY");
}

export function roleFromProto(value: CircleRole): CircleRoleName {
  if (value === CircleRole.OWNER) return "owner";
  if (value === CircleRole.MODERATOR) return "moderator";
  if (value === CircleRole.MEMBER) return "member";
  throw new DomainError("invalid_argument", "role must be OWNER, MODERATOR or MEMBER");
}

export function toCircle(row: CircleRow): Circle {
  return create(CircleSchema, {
    id: row.id,
    name: row.name,
    description: row.description,
    visibility: visibilityToProto(row.visibility),
    memberCount: row.member_count,
    version: BigInt(row.version),
    createdAt: timestampFromDate(row.created_at),
    ...(row.archived_at === null ? {} : { archivedAt: timestampFromDate(row.archived_at) }),
  });
}

export function toMember(row: Pick<MemberRow, "circle_id" | "user_id" | "role" | "joined_at">) {
  return create(MemberSchema, {
    circleId: row.circle_id,
    userId: row.user_id,
    role: roleToProto(row.role),
    joinedAt: timestampFromDate(row.joined_at),
  }) satisfies Member;
}

export function toInvite(row: InviteRow, code: string): Invite {
  return create(InviteSchema, {
    code,
    circleId: row.circle_id,
    createdBy: row.created_by,
    ...(row.max_uses === null ? {} : { maxUses: row.max_uses }),
    uses: row.uses,
    ...(row.expires_at === null ? {} : { expiresAt: timestampFromDate(row.expires_at) }),
    createdAt: timestampFromDate(row.created_at),
  });
}

export function toBan(row: BanRow): Ban {
  return create(BanSchema, {
    circleId: row.circle_id,
    userId: row.user_id,
    bannedBy: row.banned_by,
    reason: row.reason,
    createdAt: timestampFromDate(row.created_at),
    ...(row.expires_at === null ? {} : { expiresAt: timestampFromDate(row.expires_at) }),
  });
}
