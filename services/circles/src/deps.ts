import type { ServiceImpl } from "@connectrpc/connect";
import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import type { PageTokens } from "@kindred/paging";
import type { CircleService } from "@kindred/proto/circles/v1";
import type { CircleCache } from "./circle-cache.ts";
import type { CirclesSettings } from "./config.ts";
import type { CirclesDatabase } from "./db/schema.ts";

/** What circles' RPC handlers work with. */
export interface CirclesDeps {
  db: Database<CirclesDatabase>;
  outbox: Outbox;
  /** GetCircle and ListMyCircles answers; every change invalidates what it touched. */
  cache: CircleCache;
  /** Signs the page tokens of list methods, so clients cannot forge or move them. */
  pageTokens: PageTokens;
  settings: Pick<CirclesSettings, "maxMembers">;
  /** The time invites and bans are judged by; tests move it forward. */
  now: () => Date;
}

/** The handler of one CircleService method. */
export type Method<K extends keyof ServiceImpl<typeof CircleService>> = ServiceImpl<
  typeof CircleService
>[K];
