import type { Logger } from "@kindred/resilience";
import type { Kysely } from "kysely";
import { type Migration, Migrator } from "kysely/migration";
import { Database } from "./database.ts";

/**
 * A service's migrations, in order, named `YYYYMMDDTHHMM_what` (e.g.
 * `20261125T1000_create_outbox`). Listed explicitly rather than read from a folder, so the
 * bundle that runs is the bundle that was built and reviewed.
 */
export type MigrationList = Readonly<Record<string, Migration>>;

/** A migration failed; `migration` names it when the failure happened inside one. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
  readonly migration: string | undefined;

  constructor(migration: string | undefined, cause: unknown) {
    const what = migration === undefined ? "migrations failed" : `migration ${migration} failed`;
    super(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.migration = migration;
  }
}

/**
 * Applies the pending migrations and resolves to their names. Safe to run from several
 * processes at once: Kysely's Postgres adapter holds an advisory lock while migrating, so each
 * migration is applied once and the others find nothing left to do. Pending migrations run in
 * one transaction: when one fails, none of this run's are applied.
 */
export async function runMigrations<DB>(
  db: Database<DB> | Kysely<DB>,
  migrations: MigrationList,
  { logger }: { logger: Logger },
): Promise<string[]> {
  assertOrdered(Object.keys(migrations));
  const migrator = new Migrator({
    db: db instanceof Database ? db.kysely : db,
    provider: { getMigrations: async () => ({ ...migrations }) },
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === "Error")?.migrationName;
    throw new MigrationError(failed, error);
  }
  const applied = results.filter((r) => r.status === "Success").map((r) => r.migrationName);
  for (const migration of applied) logger.info({ migration }, "migration applied");
  return applied;
}

/**
 * Kysely runs migrations sorted by name, whatever the list's order; a list whose order differs
 * would be misread by whoever reviews it, so it is refused.
 */
function assertOrdered(names: string[]): void {
  for (let i = 1; i < names.length; i++) {
    const previous = names[i - 1] as string;
    const current = names[i] as string;
    if (previous >= current) {
      throw new MigrationError(
        undefined,
        new Error(`migration list out of order: ${current} is listed after ${previous}`),
      );
    }
  }
}
