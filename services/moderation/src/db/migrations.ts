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
};
