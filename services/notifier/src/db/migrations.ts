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
};
