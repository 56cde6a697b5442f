/**
 * The tables of `kindred_moderation`, as Kysely sees them. Empty until issue 6 adds the first
 * tables (with their migrations in `migrations.ts`).
 */
export type ModerationDatabase = Record<never, never>;
