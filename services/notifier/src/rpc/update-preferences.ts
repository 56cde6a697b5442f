import { DomainError } from "@kindred/errors";
import { sql } from "kysely";
import { callerOf } from "../access.ts";
import type { Method, NotifierDeps } from "../deps.ts";
import { kindFromProto } from "../names.ts";
import { readPreferences } from "../preferences.ts";
import { canonicalTimeZone } from "../quiet-hours.ts";

/**
 * Replaces the listed kinds' settings (the others keep theirs) and, when given, the quiet
 * hours. A user may turn SOS pushes off; quiet hours never delay them (ADR 17).
 */
export function updatePreferences({ db }: NotifierDeps): Method<"updatePreferences"> {
  return async (req, ctx) => {
    const userId = callerOf(ctx);
    const quiet = req.quietHours;
    let timeZone: string | undefined;
    if (quiet !== undefined) {
      timeZone = canonicalTimeZone(quiet.timeZone);
      if (timeZone === undefined) {
        throw new DomainError(
          "invalid_argument",
          `quiet_hours.time_zone: must be an IANA time zone such as Europe/Berlin, got "${quiet.timeZone}"`,
          { reason: "UNKNOWN_TIME_ZONE" },
        );
      }
      if (quiet.enabled && quiet.startMinute === quiet.endMinute) {
        throw new DomainError(
          "invalid_argument",
          "quiet_hours: start_minute and end_minute must differ when quiet hours are enabled",
          { reason: "EMPTY_QUIET_HOURS" },
        );
      }
    }
    const preferences = await db.transaction(
      async (trx) => {
        for (const { kind, pushEnabled } of req.kinds) {
          await trx
            .insertInto("preference")
            .values({ user_id: userId, kind: kindFromProto(kind), push_enabled: pushEnabled })
            .onConflict((oc) =>
              oc.columns(["user_id", "kind"]).doUpdateSet({
                push_enabled: pushEnabled,
                updated_at: sql<Date>`now()`,
              }),
            )
            .execute();
        }
        if (quiet !== undefined && timeZone !== undefined) {
          const values = {
            enabled: quiet.enabled,
            start_minute: quiet.startMinute,
            end_minute: quiet.endMinute,
            time_zone: timeZone,
          };
          await trx
            .insertInto("quiet_hours")
            .values({ user_id: userId, ...values })
            .onConflict((oc) =>
              oc.column("user_id").doUpdateSet({ ...values, updated_at: sql<Date>`now()` }),
            )
            .execute();
        }
        return readPreferences(trx, userId);
      },
      { idempotent: true },
    );
    return { preferences };
  };
}
