import { create } from "@bufbuild/protobuf";
import { type Preferences, PreferencesSchema } from "@kindred/proto/notifier/v1";
import type { Kysely, Transaction } from "kysely";
import type { NotifierDatabase } from "./db/schema.ts";
import { kindNames, kindToProto } from "./names.ts";

/**
 * A user's preferences: every kind, enabled unless they turned it off, and their quiet hours
 * when they ever set them (unset otherwise: no quiet hours).
 */
export async function readPreferences(
  db: Kysely<NotifierDatabase> | Transaction<NotifierDatabase>,
  userId: string,
): Promise<Preferences> {
  const stored = await db
    .selectFrom("preference")
    .select(["kind", "push_enabled"])
    .where("user_id", "=", userId)
    .execute();
  const quiet = await db
    .selectFrom("quiet_hours")
    .selectAll()
    .where("user_id", "=", userId)
    .executeTakeFirst();
  const enabled = new Map(stored.map((p) => [p.kind, p.push_enabled]));
  return create(PreferencesSchema, {
    kinds: kindNames.map((kind) => ({
      kind: kindToProto(kind),
      pushEnabled: enabled.get(kind) ?? true,
    })),
    ...(quiet === undefined
      ? {}
      : {
          quietHours: {
            enabled: quiet.enabled,
            startMinute: quiet.start_minute,
            endMinute: quiet.end_minute,
            timeZone: quiet.time_zone,
          },
        }),
  });
}
