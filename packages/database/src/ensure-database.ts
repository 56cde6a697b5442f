import pg from "pg";
import { quoteIdentifier, withPassword } from "./connection-string.ts";

export interface EnsureDatabaseOptions {
  /** Secret; overrides any password in `serverUrl`. */
  password?: string;
  connectTimeoutMs?: number;
}

/**
 * Creates a service's database if it does not exist yet, connecting through `serverUrl` (a URL
 * of the server's default database, e.g. `.../postgres`). Several processes may start at once:
 * the loser of the race sees `duplicate_database` (or a unique violation on `pg_database`) and
 * treats it as done. Resolves to whether this call created the database.
 */
export async function ensureDatabase(
  serverUrl: string,
  name: string,
  { password, connectTimeoutMs = 5_000 }: EnsureDatabaseOptions = {},
): Promise<boolean> {
  const client = new pg.Client({
    connectionString: withPassword(serverUrl, password),
    connectionTimeoutMillis: connectTimeoutMs,
  });
  // A connection error after connect() settled would otherwise crash the process.
  client.on("error", () => {});
  await client.connect();
  try {
    const existing = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (existing.rowCount !== 0) return false;
    await client.query(`create database ${quoteIdentifier(name)}`);
    return true;
  } catch (err) {
    if (isAlreadyCreated(err)) return false;
    throw err;
  } finally {
    await client.end();
  }
}

function isAlreadyCreated(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === "42P04" || code === "23505"; // duplicate_database, unique_violation
}
