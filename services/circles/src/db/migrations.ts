import type { MigrationList } from "@kindred/database";
import { eventMigrations } from "@kindred/events";
import { type Kysely, sql } from "kysely";

/**
 * Every migration of `kindred_circles`, in order, named `YYYYMMDDTHHMM_what`. Listed explicitly
 * (no folder scanning) so a build always carries exactly the migrations it was tested with.
 *
 * Timestamps that page tokens point at are `timestamptz(3)`: milliseconds, exactly what a
 * JavaScript Date holds, so a keyset position never rounds past a row (ADR 12).
 */
export const migrations: MigrationList = {
  ...eventMigrations,
  "20261126T0900_circles": {
    async up(db: Kysely<unknown>) {
      // Trigram indexes make DiscoverCircles' substring search (ILIKE) an index scan. pg_trgm is a
      // trusted extension: the database owner may create it.
      await sql`create extension if not exists pg_trgm`.execute(db);
      await sql`
        create table circle (
          id uuid primary key,
          name text not null,
          description text not null default '',
          visibility text not null check (visibility in ('open', 'invite_only')),
          member_count integer not null check (member_count >= 0),
          -- The change counter: +1 for every change to the circle or its membership, in the
          -- transaction of the change; every event of the circle carries it (circle_version).
          version bigint not null check (version >= 1),
          created_by uuid not null,
          created_at timestamptz(3) not null,
          updated_at timestamptz(3) not null,
          archived_at timestamptz(3),
          archived_by uuid
        )`.execute(db);
      // DiscoverCircles: open, active circles, newest first; and the same set searched by text.
      await sql`
        create index circle_discover on circle (created_at desc, id desc)
        where visibility = 'open' and archived_at is null`.execute(db);
      await sql`
        create index circle_discover_text on circle
        using gin ((name || ' ' || description) gin_trgm_ops)
        where visibility = 'open' and archived_at is null`.execute(db);

      await sql`
        create table circle_member (
          circle_id uuid not null references circle (id),
          user_id uuid not null,
          role text not null check (role in ('owner', 'moderator', 'member')),
          -- ListMembers' order: owners, then moderators, then members.
          role_rank smallint not null generated always as (
            case role when 'owner' then 0 when 'moderator' then 1 else 2 end
          ) stored,
          joined_at timestamptz(3) not null,
          primary key (circle_id, user_id)
        )`.execute(db);
      // ListMyCircles: a user's circles, most recently joined first.
      await sql`create index circle_member_by_user on circle_member (user_id, joined_at desc, circle_id desc)`.execute(
        db,
      );
      // ListMembers: one circle's members by rank, then join time.
      await sql`create index circle_member_listing on circle_member (circle_id, role_rank, joined_at, user_id)`.execute(
        db,
      );

      await sql`
        create table circle_invite (
          id uuid primary key,
          circle_id uuid not null references circle (id),
          -- SHA-256 of the code: the code is shown once, to its creator, and never stored.
          code_hash bytea not null unique,
          created_by uuid not null,
          max_uses integer check (max_uses >= 1),
          uses integer not null default 0 check (uses >= 0),
          expires_at timestamptz(3),
          created_at timestamptz(3) not null,
          revoked_at timestamptz(3),
          revoked_by uuid,
          check (max_uses is null or uses <= max_uses)
        )`.execute(db);
      // Revoking a departed member's invites.
      await sql`create index circle_invite_creator on circle_invite (circle_id, created_by) where revoked_at is null`.execute(
        db,
      );

      await sql`
        create table circle_ban (
          circle_id uuid not null references circle (id),
          user_id uuid not null,
          banned_by uuid not null,
          reason text not null default '',
          created_at timestamptz(3) not null,
          -- Null for a permanent ban. An expired ban stays until it is replaced or lifted.
          expires_at timestamptz(3),
          primary key (circle_id, user_id)
        )`.execute(db);
      // ListBans: most recent first.
      await sql`create index circle_ban_recent on circle_ban (circle_id, created_at desc, user_id desc)`.execute(
        db,
      );

      // Who did what to a circle and its members, with the reasons moderators gave: for the
      // circle's moderators and platform moderation (appeals, repeated abuse). Never read by a
      // list method yet.
      await sql`
        create table circle_audit (
          id uuid primary key,
          circle_id uuid not null references circle (id),
          kind text not null,
          actor_id uuid not null,
          -- The member acted on, if any.
          user_id uuid,
          occurred_at timestamptz(3) not null,
          request_id text not null default '',
          details jsonb not null default '{}'
        )`.execute(db);
      await sql`create index circle_audit_circle on circle_audit (circle_id, occurred_at desc, id desc)`.execute(
        db,
      );
    },
  },
  "20261128T0900_account_reactions": {
    async up(db: Kysely<unknown>) {
      // Circles acts on its own when an account is deleted or banned (ADR 12): those audit rows
      // have no actor.
      await sql`alter table circle_audit alter column actor_id drop not null`.execute(db);
      // The latest platform ban decision per user (moderation.account.restricted.v1, BANNED or
      // LIFTED): succession passes over banned accounts while anyone else is left.
      await sql`
        create table account_ban (
          user_id uuid primary key,
          banned boolean not null,
          case_id text not null default '',
          decided_at timestamptz(3) not null
        )`.execute(db);
      // Revoking every working invite of a deleted or banned account, in any circle.
      await sql`create index circle_invite_by_creator on circle_invite (created_by) where revoked_at is null`.execute(
        db,
      );
    },
  },
};
