import { newEventId } from "@kindred/events";
import { sql } from "kysely";
import { callerOf } from "../access.ts";
import type { Method, NotifierDeps } from "../deps.ts";
import { type DeviceRow, removeDevices, toDevice } from "../devices.ts";
import { platformFromProto } from "../names.ts";
import { dropReasons } from "../queue.ts";

/**
 * Registers the caller's device, by its token. The same token again updates that device (its
 * locale, app version, last seen). A token registered by another user moves to the caller —
 * phones change hands — as a new device: the old one is removed with its queued pushes, so
 * nothing meant for the previous owner reaches the new one.
 */
export function registerDevice({
  db,
  metrics,
  maxDevicesPerUser,
}: NotifierDeps): Method<"registerDevice"> {
  return async (req, ctx) => {
    const userId = callerOf(ctx);
    const platform = platformFromProto(req.platform);
    const device = await db.transaction(
      async (trx): Promise<DeviceRow> => {
        // One registration of a token at a time, whoever registers it.
        await sql`select pg_advisory_xact_lock(hashtextextended(${req.token}, 0))`.execute(trx);
        const existing = await trx
          .selectFrom("device")
          .selectAll()
          .where("token", "=", req.token)
          .executeTakeFirst();
        if (existing?.user_id === userId) {
          return trx
            .updateTable("device")
            .set({
              platform,
              locale: req.locale,
              app_version: req.appVersion,
              last_seen_at: sql<Date>`now()`,
            })
            .where("id", "=", existing.id)
            .returningAll()
            .executeTakeFirstOrThrow();
        }
        if (existing !== undefined) {
          await removeDevices(trx, [existing.id], dropReasons.deviceMoved, metrics);
        }
        const created = await trx
          .insertInto("device")
          .values({
            id: newEventId(),
            user_id: userId,
            platform,
            token: req.token,
            locale: req.locale,
            app_version: req.appVersion,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const surplus = await trx
          .selectFrom("device")
          .select("id")
          .where("user_id", "=", userId)
          .orderBy("last_seen_at", "desc")
          .orderBy("id", "desc")
          .offset(maxDevicesPerUser)
          .execute();
        await removeDevices(
          trx,
          surplus.map((d) => d.id),
          dropReasons.deviceReplaced,
          metrics,
        );
        return created;
      },
      { idempotent: true },
    );
    return { device: toDevice(device) };
  };
}
