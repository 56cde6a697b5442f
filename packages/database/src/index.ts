export type { Migration } from "kysely/migration";
export type { DatabaseConfig } from "./config.ts";
export {
  Database,
  type DatabaseDeps,
  type IsolationLevel,
  type TransactionOptions,
} from "./database.ts";
export { type EnsureDatabaseOptions, ensureDatabase } from "./ensure-database.ts";
export { MigrationError, type MigrationList, runMigrations } from "./migrations.ts";
export { createPostgresPolicy, type PostgresPolicyOptions } from "./postgres-policy.ts";
export { type CommitCallback, onCommit, TransactionEndedError } from "./transaction-scope.ts";
export { isPostgresOutage, isTransientPostgresError } from "./transient-errors.ts";
