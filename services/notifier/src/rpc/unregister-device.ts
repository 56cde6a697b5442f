import { DomainError } from "@kindred/errors";
import { callerOf } from "../access.ts";
import type { Method, NotifierDeps } from "../deps.ts";
import { removeDevices } from "../devices.ts";
import { dropReasons } from "../queue.ts";

/**
 * Removes one of the caller's devices with its queued pushes. Another user's device, like one
 * that does not exist, is `not_found`: nobody learns which device ids exist.
 */
export function unregisterDevice({ db, metrics }: NotifierDeps): Method<"unregisterDevice"> {
  return async (req, ctx) => {
    const userId = callerOf(ctx);
    const deviceId = req.deviceId.toLowerCase();
    await db.transaction(
      async (trx) => {
        const device = await trx
          .selectFrom("device")
          .select("id")
          .where("id", "=", deviceId)
          .where("user_id", "=", userId)
          .forUpdate()
          .executeTakeFirst();
        if (device === undefined) {
          throw new DomainError("not_found", "device not found", { reason: "DEVICE_NOT_FOUND" });
        }
        await removeDevices(trx, [device.id], dropReasons.deviceUnregistered, metrics);
      },
      { idempotent: true },
    );
    return {};
  };
}
