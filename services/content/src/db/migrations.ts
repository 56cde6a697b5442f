import type { MigrationList } from "@kindred/database";
import { eventMigrations } from "@kindred/events";
import { type Kysely, sql } from "kysely";

/**
 * Every migration of `kindred_content`, in order, named `YYYYMMDDTHHMM_what`. Listed explicitly
 * (no folder scanning) so a build always carries exactly the migrations it was tested with.
 */
export const migrations: MigrationList = {
  ...eventMigrations,
  "20261125T1200_post": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("post")
        .addColumn("id", "uuid", (c) => c.primaryKey())
        .addColumn("circle_id", "uuid", (c) => c.notNull())
        .addColumn("author_id", "uuid", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("content_warning", "text")
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("expires_at", "timestamptz")
        .addColumn("version", "bigint", (c) => c.notNull().defaultTo(1))
        .addColumn("deleted_at", "timestamptz")
        .execute();
      // The feed reads a circle's newest posts first (issue 5 builds the keyset cursor on it).
      await sql`create index post_circle_feed on post (circle_id, created_at desc, id desc) where deleted_at is null`.execute(
        db,
      );
    },
  },
  "20261125T1400_projections": {
    async up(db: Kysely<unknown>) {
      // Circles seen in circles' events. `version` is the circle_version of the last
      // circle-level event applied (0 when only member events were seen so far).
      await sql`
        create table circle_state (
          circle_id uuid primary key,
          version bigint not null default 0,
          archived_at timestamptz,
          updated_at timestamptz not null default now()
        )`.execute(db);
      // One row per (circle, user) ever seen; `left_at` set marks a former member (left or
      // removed) and keeps the version, so an older join delivered late cannot resurrect them.
      await sql`
        create table circle_member (
          circle_id uuid not null,
          user_id uuid not null,
          role text not null check (role in ('owner', 'moderator', 'member')),
          circle_version bigint not null,
          left_at timestamptz,
          updated_at timestamptz not null default now(),
          primary key (circle_id, user_id)
        )`.execute(db);
      await sql`create index circle_member_by_user on circle_member (user_id, circle_id) where left_at is null`.execute(
        db,
      );
      // Blocks between users, last writer (by the event's time) wins; an unblock keeps the row
      // with `blocked = false` so a block delivered late cannot come back.
      await sql`
        create table user_block (
          blocker_id uuid not null,
          blocked_id uuid not null,
          blocked boolean not null,
          changed_at timestamptz not null,
          primary key (blocker_id, blocked_id)
        )`.execute(db);
      await sql`create index user_block_by_blocked on user_block (blocked_id, blocker_id) where blocked`.execute(
        db,
      );
    },
  },
  "20261125T1401_responses": {
    async up(db: Kysely<unknown>) {
      await sql`alter table post add column removed_by uuid, add column removal_reason text`.execute(
        db,
      );
      await sql`create index post_by_author on post (author_id)`.execute(db);
      await sql`create index post_expiry on post (expires_at) where expires_at is not null`.execute(
        db,
      );
      await sql`create index post_removed on post (deleted_at) where deleted_at is not null`.execute(
        db,
      );
      await sql`
        create table response (
          id uuid primary key,
          post_id uuid not null references post (id) on delete cascade,
          author_id uuid not null,
          body text not null,
          created_at timestamptz not null default now(),
          deleted_at timestamptz,
          removed_by uuid,
          removal_reason text
        )`.execute(db);
      // ListResponses reads a post's responses oldest first.
      await sql`create index response_by_post on response (post_id, created_at, id) where deleted_at is null`.execute(
        db,
      );
      await sql`create index response_by_author on response (author_id)`.execute(db);
      await sql`create index response_removed on response (deleted_at) where deleted_at is not null`.execute(
        db,
      );
    },
  },
  "20261125T1402_evidence_hold": {
    async up(db: Kysely<unknown>) {
      // A post or response under an open moderation case (issue 6 fills this from moderation's
      // events and deletes the row when the case closes): never purged while a row exists.
      await sql`
        create table evidence_hold (
          content_kind text not null check (content_kind in ('post', 'response')),
          content_id uuid not null,
          case_id uuid not null,
          held_at timestamptz not null default now(),
          primary key (content_kind, content_id, case_id)
        )`.execute(db);
    },
  },
  "20261126T1000_sos": {
    async up(db: Kysely<unknown>) {
      // SOS alerts (ADR 13). `stage_changed_at` is when the alert reached its current
      // escalation stage: the escalation job moves it on `SOS_ACK_TIMEOUT_SECONDS` later.
      await sql`
        create table sos_alert (
          id uuid primary key,
          circle_id uuid not null,
          raised_by uuid not null,
          message text,
          status text not null default 'raised'
            check (status in ('raised', 'acknowledged', 'escalated', 'resolved')),
          escalation_stage text not null default 'circle'
            check (escalation_stage in ('circle', 'second_wave', 'circle_moderators', 'platform_on_call')),
          created_at timestamptz not null default now(),
          stage_changed_at timestamptz not null default now(),
          resolved_at timestamptz,
          resolved_by uuid,
          check ((status = 'resolved') = (resolved_at is not null))
        )`.execute(db);
      // The rate limit counts a user's alerts of the last hour.
      await sql`create index sos_alert_by_raiser on sos_alert (raised_by, created_at desc)`.execute(
        db,
      );
      // ListActiveSos: a circle's unresolved alerts, newest first.
      await sql`create index sos_alert_active on sos_alert (circle_id, created_at desc, id desc) where status <> 'resolved'`.execute(
        db,
      );
      // The escalation job: alerts nobody acknowledged that can still go further.
      await sql`create index sos_alert_due on sos_alert (stage_changed_at) where status in ('raised', 'escalated') and escalation_stage <> 'platform_on_call'`.execute(
        db,
      );
      await sql`
        create table sos_acknowledgement (
          alert_id uuid not null references sos_alert (id) on delete cascade,
          user_id uuid not null,
          acknowledged_at timestamptz not null default now(),
          primary key (alert_id, user_id)
        )`.execute(db);
      // Projection of moderation's SOS restrictions: the latest decision per user (by its
      // time); `restricted = false` is a lifted one, kept so a late older decision cannot return.
      await sql`
        create table sos_restriction (
          user_id uuid primary key,
          restricted boolean not null,
          until timestamptz,
          case_id text not null,
          decided_at timestamptz not null
        )`.execute(db);
    },
  },
  "20261126T1100_may_write_in": {
    async up(db: Kysely<unknown>) {
      // CreatePost's membership rule (`mayWriteIn` in access.ts), checked inside its insert.
      // PL/pgSQL keeps the plan of its query per connection: planning the join on every post
      // cost PostgreSQL more than running it.
      await sql`
        create function may_write_in(in_circle uuid, by_user uuid) returns boolean
        language plpgsql stable as $$
        begin
          return exists (
            select 1 from circle_member m join circle_state c on c.circle_id = m.circle_id
            where m.circle_id = in_circle and m.user_id = by_user and m.left_at is null
              and c.archived_at is null);
        end $$`.execute(db);
    },
  },
  "20261127T1000_moderation": {
    async up(db: Kysely<unknown>) {
      // Moderation's effects on posts and responses (ADR 15). `hidden_by_case`: hidden for
      // review by that case (shown to its author only); `removed_by_case`: removed by that case's
      // decision, so only a reversal of it restores the row.
      for (const table of ["post", "response"]) {
        await sql`alter table ${sql.table(table)}
          add column hidden_by_case uuid,
          add column hidden_at timestamptz,
          add column removed_by_case uuid`.execute(db);
      }
      // What content has heard of each moderation case about a post or response. Moderation's
      // events reach content through one consumer per subject, so a case's events can arrive in
      // any order: each event records its fact here, and the row's state follows from all of
      // them (moderated-content.ts). Rows outlive the facts (a released case keeps its row), so
      // a late event of a closed case cannot hold, hide or remove again.
      await sql`
        create table moderation_case (
          case_id uuid primary key,
          content_kind text not null check (content_kind in ('post', 'response')),
          content_id uuid not null,
          hidden_at timestamptz,
          decision_id uuid,
          decision text,
          decided_by uuid,
          decided_at timestamptz,
          reversed_decision_id uuid,
          released_at timestamptz,
          check ((decision_id is null) = (decision is null))
        )`.execute(db);
      await sql`create index moderation_case_by_content on moderation_case (content_kind, content_id)`.execute(
        db,
      );
    },
  },
};
