import { setTimeout as sleep } from "node:timers/promises";
import type { DatabaseSettings } from "@kindred/config";
import {
  type Database,
  ensureDatabase,
  type MigrationList,
  runMigrations,
} from "@kindred/database";
import type { Logger } from "@kindred/logging";
import { backoffDelay } from "@kindred/resilience";
import type { HealthCheck, Lifecycle } from "@kindred/runtime";

/**
 * Creates the service's database and applies its migrations: once, for the `migrate` command
 * (a deploy job). Concurrent runs are safe: creation tolerates a race and the migrator holds a
 * lock.
 */
export async function migrateDatabase(
  settings: DatabaseSettings,
  db: Database<unknown>,
  migrations: MigrationList,
  logger: Logger,
): Promise<string[]> {
  await ensureDatabase(settings.serverUrl, settings.name, {
    ...(settings.password === undefined ? {} : { password: settings.password }),
  });
  return runMigrations(db, migrations, { logger });
}

/**
 * In development (`MIGRATE_ON_START`), migrations run in the background at start and are
 * retried with backoff while PostgreSQL is down; readiness reports `migrations` until they
 * have been applied, so the service never serves an old schema.
 */
export function migrateOnStart(
  lifecycle: Lifecycle,
  settings: DatabaseSettings,
  db: Database<unknown>,
  migrations: MigrationList,
  logger: Logger,
): HealthCheck & { applied: Promise<void> } {
  const stop = new AbortController();
  const schema = Promise.withResolvers<void>();
  let state: { done: boolean; error: string | undefined } = { done: false, error: undefined };
  let loop: Promise<void> = Promise.resolve();

  const run = async () => {
    for (let attempt = 0; !stop.signal.aborted; attempt++) {
      try {
        const applied = await migrateDatabase(settings, db, migrations, logger);
        logger.info({ applied, database: settings.name }, "database is migrated");
        state = { done: true, error: undefined };
        schema.resolve();
        return;
      } catch (err) {
        state = { done: false, error: err instanceof Error ? err.message : String(err) };
        const delay = backoffDelay(attempt, 250, 10_000);
        logger.warn({ err, attempt, retryInMs: delay }, "migrations failed; retrying");
        await sleep(delay, undefined, { signal: stop.signal }).catch(() => {});
      }
    }
  };

  lifecycle.add(
    "migrations",
    () => {
      loop = run();
    },
    async () => {
      stop.abort();
      await loop;
    },
  );

  return {
    applied: schema.promise,
    name: "migrations",
    check: async () => {
      if (!state.done) throw new Error(`not applied yet${state.error ? `: ${state.error}` : ""}`);
    },
  };
}
