/**
 * The tables of `kindred_notifier`, as Kysely sees them. Empty until issue 7 adds the first
 * tables (with their migrations in `migrations.ts`).
 */
export type NotifierDatabase = Record<never, never>;
