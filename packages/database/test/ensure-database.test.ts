import { testEnv, uniqueName } from "@kindred/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/index.ts";

const created: string[] = [];

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testEnv.databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await admin(async (client) => {
    for (const name of created)
      await client.query(`drop database if exists "${name}" with (force)`);
  });
});

describe("ensureDatabase", () => {
  it("creates a missing database exactly once when several processes race", async () => {
    const name = uniqueName("kt_ensure");
    created.push(name);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => ensureDatabase(testEnv.databaseUrl, name)),
    );
    expect(results.filter((createdByThisCall) => createdByThisCall)).toHaveLength(1);
    const { rowCount } = await admin((c) =>
      c.query("select 1 from pg_database where datname = $1", [name]),
    );
    expect(rowCount).toBe(1);
  });

  it("leaves an existing database alone", async () => {
    const name = uniqueName("kt_ensure");
    created.push(name);
    await expect(ensureDatabase(testEnv.databaseUrl, name)).resolves.toBe(true);
    await expect(ensureDatabase(testEnv.databaseUrl, name)).resolves.toBe(false);
  });

  it("quotes the name, so odd characters cannot inject SQL", async () => {
    const name = `${uniqueName("kt_ensure")}"; select 1; --`;
    created.push(name.replaceAll('"', '""'));
    await expect(ensureDatabase(testEnv.databaseUrl, name)).resolves.toBe(true);
    const { rowCount } = await admin((c) =>
      c.query("select 1 from pg_database where datname = $1", [name]),
    );
    expect(rowCount).toBe(1);
  });
});
