import type { MigrationList } from "@kindred/database";
import { eventMigrations } from "@kindred/events";
import { type Kysely, sql } from "kysely";

/**
 * Every migration of `kindred_moderation`, in order, named `YYYYMMDDTHHMM_what`. Listed
 * explicitly (no folder scanning) so a build always carries exactly the migrations it was
 * tested with.
 */
export const migrations: MigrationList = {
  ...eventMigrations,
  "20261125T1200_scan_item": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("scan_item")
        .addColumn("event_id", "uuid", (c) => c.primaryKey())
        .addColumn("content_kind", "text", (c) => c.notNull())
        .addColumn("content_id", "uuid", (c) => c.notNull())
        .addColumn("circle_id", "uuid", (c) => c.notNull())
        .addColumn("author_id", "uuid", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull().defaultTo("pending"))
        .addColumn("received_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await sql`create index scan_item_pending on scan_item (received_at) where status = 'pending'`.execute(
        db,
      );
    },
  },
  "20261127T0900_moderation": {
    async up(db: Kysely<unknown>) {
      // Times that page tokens carry are kept to the millisecond, so a keyset position (a JS
      // Date) names a row exactly.
      const nowMs = sql`date_trunc('milliseconds', now())`;
      // What moderation knows of content, from content's events: report targets, snapshots
      // and the author's recent activity for the spam rules.
      await sql`
        create table content_item (
          content_kind text not null check (content_kind in ('post', 'response')),
          content_id uuid not null,
          post_id uuid not null,
          circle_id uuid not null,
          author_id uuid not null,
          body text not null,
          fingerprint text not null,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          version bigint not null default 0,
          primary key (content_kind, content_id)
        )`.execute(db);
      await sql`create index content_item_by_author on content_item (author_id, created_at desc)`.execute(
        db,
      );
      // Content waiting for the scanner: one row per content event, leased while scanned.
      await sql`drop table scan_item`.execute(db);
      await sql`
        create table scan_item (
          event_id uuid primary key,
          content_kind text not null check (content_kind in ('post', 'response')),
          content_id uuid not null,
          body text not null,
          status text not null default 'pending' check (status in ('pending', 'scanned', 'failed')),
          attempts int not null default 0,
          lease_until timestamptz,
          received_at timestamptz not null default now(),
          scanned_at timestamptz
        )`.execute(db);
      await sql`create index scan_item_pending on scan_item (received_at) where status = 'pending'`.execute(
        db,
      );
      // Accounts and circles, from identity's and circles' events: report targets, account
      // age for the new-account rules, and who moderates which circle (scoped access).
      await sql`
        create table account (
          user_id uuid primary key,
          display_name text not null default '',
          created_at timestamptz,
          deleted_at timestamptz
        )`.execute(db);
      await sql`
        create table circle_info (
          circle_id uuid primary key,
          name text not null default '',
          description text not null default '',
          version bigint not null default 0,
          archived_at timestamptz
        )`.execute(db);
      await sql`
        create table circle_role (
          circle_id uuid not null,
          user_id uuid not null,
          role text not null check (role in ('owner', 'moderator', 'member')),
          circle_version bigint not null,
          left_at timestamptz,
          primary key (circle_id, user_id)
        )`.execute(db);
      await sql`create index circle_staff_by_user on circle_role (user_id) where left_at is null and role <> 'member'`.execute(
        db,
      );
      await sql`
        create table mod_case (
          id uuid primary key,
          target_kind text not null check (target_kind in ('post', 'response', 'user', 'circle')),
          target_id uuid not null,
          post_id uuid,
          circle_id uuid,
          subject_user_id uuid,
          snapshot_text text not null default '',
          snapshot_at timestamptz not null default now(),
          status text not null default 'open' check (status in ('open', 'escalated', 'resolved')),
          scope text not null check (scope in ('circle', 'platform')),
          priority smallint not null check (priority between 1 and 4),
          reason text not null,
          assignee_id uuid,
          claim_expires_at timestamptz,
          report_count int not null default 0,
          hidden boolean not null default false,
          created_at timestamptz not null default ${nowMs},
          updated_at timestamptz not null default now(),
          resolved_at timestamptz,
          check ((assignee_id is null) = (claim_expires_at is null))
        )`.execute(db);
      // One open case per target: reports and matches join it.
      await sql`create unique index mod_case_open_target on mod_case (target_kind, target_id) where status <> 'resolved'`.execute(
        db,
      );
      // The queue: priority, then age.
      await sql`create index mod_case_queue on mod_case (priority desc, created_at, id) where status <> 'resolved'`.execute(
        db,
      );
      await sql`create index mod_case_by_circle on mod_case (circle_id, priority desc, created_at, id)`.execute(
        db,
      );
      await sql`create index mod_case_claims on mod_case (claim_expires_at) where claim_expires_at is not null`.execute(
        db,
      );
      await sql`
        create table report (
          id uuid primary key,
          case_id uuid references mod_case (id),
          reporter_id uuid not null,
          target_kind text not null,
          target_id uuid not null,
          reason text not null,
          details text not null default '',
          open boolean not null default true,
          created_at timestamptz not null default now()
        )`.execute(db);
      await sql`create unique index report_one_open on report (reporter_id, target_kind, target_id) where open`.execute(
        db,
      );
      await sql`create index report_by_reporter on report (reporter_id, created_at desc)`.execute(
        db,
      );
      await sql`create index report_by_case on report (case_id, created_at)`.execute(db);
      // Matches of the pipeline, by target: a case shows the matches of its target.
      await sql`
        create table rule_match (
          id bigserial primary key,
          target_kind text not null,
          target_id uuid not null,
          rule_id text not null,
          source text not null check (source in ('rule', 'classifier', 'report_threshold')),
          severity smallint not null check (severity between 0 and 4),
          outcome text not null check (outcome in ('allow', 'flag', 'hide')),
          reason text not null,
          detail text not null default '',
          matched_at timestamptz not null default now()
        )`.execute(db);
      await sql`create index rule_match_by_target on rule_match (target_kind, target_id, matched_at)`.execute(
        db,
      );
      // Every step of every case and every moderator action: who, when, why.
      await sql`
        create table moderation_log (
          id uuid primary key,
          kind text not null,
          case_id uuid,
          circle_id uuid,
          actor_id uuid,
          user_id uuid,
          note text not null default '',
          occurred_at timestamptz not null default ${nowMs}
        )`.execute(db);
      await sql`create index moderation_log_newest on moderation_log (occurred_at desc, id desc)`.execute(
        db,
      );
      await sql`create index moderation_log_by_case on moderation_log (case_id, occurred_at)`.execute(
        db,
      );
      await sql`
        create table decision (
          id uuid primary key,
          case_id uuid not null unique references mod_case (id),
          action text not null,
          affected_user_id uuid,
          target_kind text not null,
          target_id uuid not null,
          note text not null,
          moderator_id uuid not null,
          decided_at timestamptz not null default ${nowMs},
          expires_at timestamptz,
          appealable_until timestamptz,
          reversed_at timestamptz
        )`.execute(db);
      await sql`create index decision_by_user on decision (affected_user_id, decided_at desc, id desc)`.execute(
        db,
      );
      await sql`
        create table appeal (
          id uuid primary key,
          decision_id uuid not null unique references decision (id),
          appellant_id uuid not null,
          statement text not null,
          status text not null default 'pending' check (status in ('pending', 'upheld', 'overturned')),
          resolution_note text not null default '',
          resolved_by uuid,
          created_at timestamptz not null default now(),
          resolved_at timestamptz
        )`.execute(db);
      await sql`
        create table reporter_mute (
          user_id uuid primary key,
          muted_until timestamptz,
          muted_by uuid not null,
          note text not null,
          created_at timestamptz not null default now()
        )`.execute(db);
      // Moderation's side of content's evidence hold: held while `release_at` is null or in
      // the future; the sweep publishes the release when it passes.
      await sql`
        create table evidence_hold (
          case_id uuid primary key references mod_case (id),
          target_kind text not null,
          target_id uuid not null,
          release_at timestamptz,
          released_at timestamptz
        )`.execute(db);
      await sql`create index evidence_hold_due on evidence_hold (release_at) where released_at is null and release_at is not null`.execute(
        db,
      );
    },
  },
  "20261127T1700_expired_claim_by": {
    async up(db: Kysely<unknown>) {
      // Who held the claim the sweep ended, so that they are told it expired rather than that
      // they never claimed the case.
      await sql`alter table mod_case add column expired_claim_by uuid`.execute(db);
    },
  },
};
