import pg from "pg";
import { testEnv } from "./env.ts";
import { uniqueName } from "./names.ts";

export interface TestDatabase extends AsyncDisposable {
  /** The database's name (`kt_<...>`). */
  readonly name: string;
  /** A connection string for the new database. */
  readonly url: string;
  /** The server URL it lives on (the same as DATABASE_URL, with the default database). */
  readonly serverUrl: string;
  drop(): Promise<void>;
}

export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, empty PostgreSQL database for one test file; `await using db = await createTestDatabase()`
 * drops it again (terminating any connection left open).
 */
export async function createTestDatabase(prefix = "kt"): Promise<TestDatabase> {
  const serverUrl = testEnv.databaseUrl;
  const name = uniqueName(prefix);
  await withAdmin(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await withAdmin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  };
  return {
    name,
    url: databaseUrlFor(serverUrl, name),
    serverUrl,
    drop,
    [Symbol.asyncDispose]: drop,
  };
}
