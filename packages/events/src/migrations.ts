import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/** NOTIFY channel the outbox trigger signals; the relay LISTENs on it (a hint, not a queue). */
export const outboxChannel = "kindred_event_outbox";

/**
 * The backbone's tables, to be listed in a service's own migrations (names sort before any
 * service migration written after 2026-11-25).
 */
export const eventMigrations: Readonly<Record<string, Migration>> = {
  "20261125T1100_event_outbox": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("event_outbox")
        .addColumn("id", "uuid", (c) => c.primaryKey())
        .addColumn("seq", "bigserial", (c) => c.notNull().unique())
        .addColumn("aggregate_key", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("headers", "jsonb", (c) => c.notNull())
        .addColumn("payload", "bytea", (c) => c.notNull())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("sent_at", "timestamptz")
        .addColumn("republish_count", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      // The relay reads unsent rows in order; the index holds only those, so it stays small.
      await sql`create index event_outbox_unsent on event_outbox (seq) where sent_at is null`.execute(
        db,
      );
      // For the retention job and `republish --since`.
      await sql`create index event_outbox_sent on event_outbox (sent_at) where sent_at is not null`.execute(
        db,
      );
      await sql`create index event_outbox_created on event_outbox (created_at)`.execute(db);
      await sql`
        create function event_outbox_notify() returns trigger language plpgsql as $$
        begin
          perform pg_notify(${sql.lit(outboxChannel)}, '');
          return null;
        end $$`.execute(db);
      await sql`
        create trigger event_outbox_notify after insert on event_outbox
        for each statement execute function event_outbox_notify()`.execute(db);
    },
  },
  "20261125T1101_event_inbox": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("event_inbox")
        .addColumn("consumer", "text", (c) => c.notNull())
        .addColumn("event_id", "uuid", (c) => c.notNull())
        .addColumn("handled_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint("event_inbox_pkey", ["consumer", "event_id"])
        .execute();
      await sql`create index event_inbox_handled on event_inbox (handled_at)`.execute(db);
    },
  },
  "20261125T1102_event_dead_letter": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("event_dead_letter")
        .addColumn("id", "uuid", (c) => c.primaryKey())
        .addColumn("consumer", "text", (c) => c.notNull())
        .addColumn("event_id", "uuid", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("headers", "jsonb", (c) => c.notNull())
        .addColumn("payload", "bytea", (c) => c.notNull())
        .addColumn("error", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("failed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("replayed_at", "timestamptz")
        .execute();
      await sql`create index event_dead_letter_open on event_dead_letter (consumer, failed_at) where replayed_at is null`.execute(
        db,
      );
    },
  },
};
