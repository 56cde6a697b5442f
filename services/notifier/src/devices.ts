import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Device, DeviceSchema } from "@kindred/proto/notifier/v1";
import type { Selectable } from "kysely";
import type { NotifierDatabase } from "./db/schema.ts";
import type { NotifierMetrics } from "./metrics.ts";
import { platformToProto } from "./names.ts";
import { dropQueued, type Trx } from "./queue.ts";

export type DeviceRow = Selectable<NotifierDatabase["device"]>;

/**
 * Deletes devices; their queued deliveries are dropped with `reason`, and the delivery log
 * keeps the device ids of what was sent before.
 */
export async function removeDevices(
  trx: Trx,
  ids: readonly string[],
  reason: string,
  metrics: NotifierMetrics,
): Promise<void> {
  if (ids.length === 0) return;
  await dropQueued(trx, (eb) => eb("delivery.device_id", "in", ids), reason, { metrics });
  await trx.deleteFrom("device").where("id", "in", ids).execute();
}

export const toDevice = (row: DeviceRow): Device =>
  create(DeviceSchema, {
    id: row.id,
    platform: platformToProto(row.platform),
    locale: row.locale,
    appVersion: row.app_version,
    createdAt: timestampFromDate(row.created_at),
    lastSeenAt: timestampFromDate(row.last_seen_at),
  });
