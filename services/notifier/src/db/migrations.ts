import type { MigrationList } from "@kindred/database";
import { eventMigrations } from "@kindred/events";
import { type Kysely, sql } from "kysely";

/**
 * Every migration of `kindred_notifier`, in order, named `YYYYMMDDTHHMM_what`. Listed
 * explicitly (no folder scanning) so a build always carries exactly the migrations it was
 * tested with.
 */
export const migrations: MigrationList = {
  ...eventMigrations,
  "20261125T1200_delivery_decision": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("delivery_decision")
        .addColumn("event_id", "uuid", (c) => c.primaryKey())
        .addColumn("event_type", "text", (c) => c.notNull())
        .addColumn("circle_id", "uuid", (c) => c.notNull())
        .addColumn("subject_id", "uuid", (c) => c.notNull())
        .addColumn("decision", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("decided_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  "20261128T0900_devices_preferences_delivery_log": {
    async up(db: Kysely<unknown>) {
      // Push devices of users; a token belongs to one device, and so to one user (ADR 17).
      await sql`
        create table device (
          id uuid primary key,
          user_id uuid not null,
          platform text not null check (platform in ('ios', 'android')),
          token text not null unique,
          locale text not null,
          app_version text not null,
          created_at timestamptz not null default now(),
          last_seen_at timestamptz not null default now()
        )`.execute(db);
      await sql`create index device_by_user on device (user_id, last_seen_at desc)`.execute(db);
      // Preferences: a kind without a row is enabled; quiet hours without a row are off.
      await sql`
        create table preference (
          user_id uuid not null,
          kind text not null
            check (kind in ('response', 'sos', 'moderation_decision', 'circle_invite')),
          push_enabled boolean not null,
          updated_at timestamptz not null default now(),
          primary key (user_id, kind)
        )`.execute(db);
      await sql`
        create table quiet_hours (
          user_id uuid primary key,
          enabled boolean not null,
          start_minute smallint not null check (start_minute between 0 and 1439),
          end_minute smallint not null check (end_minute between 0 and 1439),
          time_zone text not null,
          updated_at timestamptz not null default now()
        )`.execute(db);
      // Projections of other services' facts (ADR 11's rules): circle membership by circle
      // version, blocks by event time with unblocks kept as tombstones, account restrictions
      // by decision time, and SOS alerts that were resolved.
      await sql`
        create table circle_member (
          circle_id uuid not null,
          user_id uuid not null,
          role text not null check (role in ('owner', 'moderator', 'member')),
          circle_version bigint not null,
          left_at timestamptz,
          primary key (circle_id, user_id)
        )`.execute(db);
      await sql`
        create table block (
          blocker_id uuid not null,
          blocked_id uuid not null,
          blocked boolean not null,
          changed_at timestamptz not null,
          primary key (blocker_id, blocked_id)
        )`.execute(db);
      await sql`create index block_by_blocked on block (blocked_id) where blocked`.execute(db);
      await sql`
        create table account_restriction (
          user_id uuid primary key,
          kind text not null check (kind in ('suspended', 'banned', 'lifted')),
          restricted_until timestamptz,
          case_id uuid,
          decided_at timestamptz not null
        )`.execute(db);
      await sql`
        create table sos_alert (
          alert_id uuid primary key,
          resolved_at timestamptz not null
        )`.execute(db);
      // The delivery log: one notification per event and recipient, one delivery per device.
      await sql`
        create table notification (
          id uuid primary key,
          user_id uuid not null,
          kind text not null
            check (kind in ('response', 'sos', 'moderation_decision', 'circle_invite')),
          event_id uuid not null,
          subject_kind text not null check (subject_kind in ('response', 'sos', 'decision')),
          subject_id uuid not null,
          post_id uuid,
          actor_id uuid,
          circle_id uuid,
          status text not null check (status in ('queued', 'sent', 'failed', 'dropped')),
          reason text,
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now(),
          unique (event_id, user_id)
        )`.execute(db);
      await sql`create index notification_by_user on notification (user_id, created_at desc)`.execute(
        db,
      );
      await sql`create index notification_by_subject on notification (subject_id)`.execute(db);
      await sql`create index notification_by_post on notification (post_id) where post_id is not null`.execute(
        db,
      );
      await sql`create index notification_by_actor on notification (actor_id) where actor_id is not null`.execute(
        db,
      );
      // No foreign key to device: the log outlives the devices it went to.
      await sql`
        create table delivery (
          id uuid primary key,
          notification_id uuid not null references notification (id) on delete cascade,
          device_id uuid not null,
          status text not null default 'queued'
            check (status in ('queued', 'sent', 'failed', 'dropped')),
          attempts int not null default 0,
          next_attempt_at timestamptz not null default now(),
          lease_until timestamptz,
          last_error text,
          reason text,
          provider_id text,
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now(),
          unique (notification_id, device_id)
        )`.execute(db);
      await sql`create index delivery_due on delivery (next_attempt_at) where status = 'queued'`.execute(
        db,
      );
      await sql`create index delivery_queued_by_device on delivery (device_id) where status = 'queued'`.execute(
        db,
      );
    },
  },
};
