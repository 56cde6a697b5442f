import type { MigrationList } from "@kindred/database";

/**
 * Every migration of `kindred_content`, in order, named `YYYYMMDDTHHMM_what`. Listed explicitly
 * (no folder scanning) so a build always carries exactly the migrations it was tested with.
 */
export const migrations: MigrationList = {};
