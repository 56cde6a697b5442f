import type { ServiceImpl } from "@connectrpc/connect";
import type { Database } from "@kindred/database";
import type { NotifierService } from "@kindred/proto/notifier/v1";
import type { NotifierDatabase } from "./db/schema.ts";
import type { NotifierMetrics } from "./metrics.ts";

/** What notifier's RPC handlers work with. */
export interface NotifierDeps {
  db: Database<NotifierDatabase>;
  metrics: NotifierMetrics;
  /** Devices one user may have; one more replaces the least recently seen. */
  maxDevicesPerUser: number;
}

/** The handler of one NotifierService method. */
export type Method<K extends keyof ServiceImpl<typeof NotifierService>> = ServiceImpl<
  typeof NotifierService
>[K];
