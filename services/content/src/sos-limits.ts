import { DomainError } from "@kindred/errors";
import { type Kysely, sql, type Transaction } from "kysely";
import type { ContentDatabase } from "./db/schema.ts";

const emergency = "If you are in danger right now, call your local emergency number.";

/** Whole seconds, rounded up, as `2026-11-25T14:05:00Z`. */
const isoSecond = (at: Date) =>
  new Date(Math.ceil(at.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");

/**
 * Refuses (`permission_denied`, reason `SOS_RESTRICTED`) a user whom moderators restricted
 * from raising SOS alerts, while the restriction lasts (the projection of
 * `moderation.account.restricted.v1`).
 */
export async function refuseIfRestricted(
  db: Kysely<ContentDatabase>,
  userId: string,
): Promise<void> {
  const restriction = await db
    .selectFrom("sos_restriction")
    .select("until")
    .where("user_id", "=", userId)
    .where("restricted", "=", true)
    .where((eb) => eb.or([eb("until", "is", null), eb("until", ">", sql<Date>`now()`)]))
    .executeTakeFirst();
  if (restriction === undefined) return;
  const until = restriction.until === null ? "" : ` until ${isoSecond(restriction.until)}`;
  throw new DomainError(
    "permission_denied",
    `moderators have restricted you from raising SOS alerts${until}. ${emergency}`,
    { reason: "SOS_RESTRICTED" },
  );
}

/**
 * Refuses (`resource_exhausted`, reason `SOS_RATE_LIMITED`) an alert beyond `maxPerHour` in
 * the last hour, with the time the next one is possible. Counts the user's alerts in the
 * database, so the limit holds across replicas; a transaction-scoped lock per user makes
 * concurrent raises count one after another. Call it in the transaction that inserts.
 */
export async function enforceRateLimit(
  trx: Transaction<ContentDatabase>,
  userId: string,
  maxPerHour: number,
): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`kindred-sos-rate:${userId}`}, 0))`.execute(
    trx,
  );
  const recent = await trx
    .selectFrom("sos_alert")
    .select([
      sql<Date>`created_at + interval '1 hour'`.as("frees_at"),
      sql<string>`ceil(extract(epoch from created_at + interval '1 hour' - now()))`.as("frees_in"),
    ])
    .where("raised_by", "=", userId)
    .where("created_at", ">", sql<Date>`now() - interval '1 hour'`)
    .orderBy("created_at", "desc")
    .limit(maxPerHour)
    .execute();
  if (recent.length < maxPerHour) return;
  // The oldest of the last `maxPerHour` alerts leaves the window first.
  const oldest = recent[recent.length - 1];
  if (oldest === undefined) return;
  const minutes = Math.max(1, Math.ceil(Number(oldest.frees_in) / 60));
  throw new DomainError(
    "resource_exhausted",
    `you can raise ${maxPerHour} SOS alert${maxPerHour === 1 ? "" : "s"} per hour; the next one is possible at ${isoSecond(oldest.frees_at)} (in ${minutes} min). ${emergency}`,
    { reason: "SOS_RATE_LIMITED" },
  );
}
