import { createTestDatabase, waitFor } from "@kindred/testing";
import { sql } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { Database, MigrationError, type MigrationList, runMigrations } from "../src/index.ts";
import { configFor, recordingLogger } from "./helpers.ts";

const logger = recordingLogger();

const createWidgets: MigrationList[string] = {
  async up(db) {
    await db.schema
      .createTable("widgets")
      .addColumn("id", "serial", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .execute();
  },
};

/** Whether some session waits for an advisory lock (the migration lock) in `database`. */
async function someoneWaitsForTheLock(url: string, database: string): Promise<true | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ waiting: number }>(
      `select count(*)::int as waiting from pg_locks
       where locktype = 'advisory' and not granted
         and database = (select oid from pg_database where datname = $1)`,
      [database],
    );
    return (rows[0]?.waiting ?? 0) > 0 ? true : undefined;
  } finally {
    await client.end();
  }
}

describe("runMigrations", () => {
  it("applies each migration once when two migrators race on one database", async () => {
    await using testDb = await createTestDatabase("kt_migrate");
    const migrations: MigrationList = {
      "20261125T1000_create_widgets": createWidgets,
      "20261125T1001_insert_widget": {
        async up(db) {
          // Hold the lock until the other migrator is seen blocked on it: proves the two
          // overlapped and that the lock, not luck, kept the second one out.
          await waitFor(() => someoneWaitsForTheLock(testDb.url, testDb.name), {
            what: "the second migrator to wait for the migration lock",
          });
          await db.insertInto("widgets").values({ name: "only once" }).execute();
        },
      },
    };
    await using a = Database.create(configFor(testDb.url), { logger });
    await using b = Database.create(configFor(testDb.url), { logger });

    const [fromA, fromB] = await Promise.all([
      runMigrations(a, migrations, { logger }),
      runMigrations(b.kysely, migrations, { logger }),
    ]);

    expect([...fromA, ...fromB].sort()).toEqual(Object.keys(migrations));
    expect([fromA.length, fromB.length].sort()).toEqual([0, 2]);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from widgets`.execute(
      a.kysely,
    );
    expect(rows[0]?.n).toBe(1);
    await expect(runMigrations(a, migrations, { logger })).resolves.toEqual([]);
  });

  it("names the migration that failed and applies none of the run", async () => {
    await using testDb = await createTestDatabase("kt_migrate");
    await using db = Database.create(configFor(testDb.url), { logger });
    const migrations: MigrationList = {
      "20261125T1000_create_widgets": createWidgets,
      "20261125T1001_broken": {
        async up(db) {
          await sql`insert into no_such_table values (1)`.execute(db);
        },
      },
    };
    const err = await runMigrations(db, migrations, { logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).migration).toBe("20261125T1001_broken");
    expect((err as Error).message).toMatch(
      /^migration 20261125T1001_broken failed: .*no_such_table/,
    );
    const { rows } = await sql<{
      t: string | null;
    }>`select to_regclass('widgets')::text as t`.execute(db.kysely);
    expect(rows[0]?.t).toBeNull();
  });

  it("refuses a list that is not in name order", async () => {
    await using testDb = await createTestDatabase("kt_migrate");
    await using db = Database.create(configFor(testDb.url), { logger });
    const migrations: MigrationList = {
      "20261125T1001_second": createWidgets,
      "20261125T1000_first": createWidgets,
    };
    await expect(runMigrations(db, migrations, { logger })).rejects.toThrow(
      "migration list out of order: 20261125T1000_first is listed after 20261125T1001_second",
    );
  });
});
