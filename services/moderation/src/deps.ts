import type { ServiceImpl } from "@connectrpc/connect";
import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import type { PageTokens } from "@kindred/paging";
import type { ModerationService } from "@kindred/proto/moderation/v1";
import type { ModerationSettings } from "./config.ts";
import type { ModerationDatabase } from "./db/schema.ts";

/** What moderation's RPC handlers work with. */
export interface ModerationDeps {
  db: Database<ModerationDatabase>;
  outbox: Outbox;
  /** Signs the page tokens of list methods, so clients cannot forge or move them. */
  pageTokens: PageTokens;
  settings: ModerationSettings;
  /** The time claims, appeal windows and mutes are judged by; tests move it forward. */
  now: () => Date;
}

/** The handler of one ModerationService method. */
export type Method<K extends keyof ServiceImpl<typeof ModerationService>> = ServiceImpl<
  typeof ModerationService
>[K];
