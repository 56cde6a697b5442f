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
};
