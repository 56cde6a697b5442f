/**
 * The tables of `kindred_circles`, as Kysely sees them. Empty until issue 5 adds the first
 * tables (with their migrations in `migrations.ts`).
 */
export type CirclesDatabase = Record<never, never>;
