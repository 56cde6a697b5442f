import type { DatabaseSettings, ServerSettings } from "@kindred/config";
import { Database, type MigrationList } from "@kindred/database";
import { createLogger } from "@kindred/logging";
import { migrateDatabase } from "./migrate-on-start.ts";

/** `node dist/main.js migrate`: creates the database if needed, applies migrations, exits. */
export async function runMigrateCommand(
  server: ServerSettings,
  settings: DatabaseSettings,
  migrations: MigrationList,
): Promise<void> {
  const logger = createLogger({ service: server.name, level: server.logLevel });
  await using db = Database.create<unknown>(
    {
      url: settings.url,
      ...(settings.password === undefined ? {} : { password: settings.password }),
      poolMax: 2,
      connectTimeoutMs: settings.connectTimeoutMs,
      statementTimeoutMs: 0,
      idleTimeoutMs: settings.idleTimeoutMs,
      applicationName: `${settings.applicationName}-migrate`,
    },
    { logger },
  );
  const applied = await migrateDatabase(settings, db, migrations, logger);
  logger.info({ database: settings.name, applied }, "migrations are up to date");
}

/** The one-shot commands of a service that owns a database. */
export function databaseCommands(migrations: MigrationList) {
  return {
    migrate: (config: { server: ServerSettings; database: DatabaseSettings }) =>
      runMigrateCommand(config.server, config.database, migrations),
  };
}
