/**
 * The tables of `kindred_identity`, as Kysely sees them. Empty until issue 4 adds the first
 * tables (with their migrations in `migrations.ts`).
 */
export type IdentityDatabase = Record<never, never>;
