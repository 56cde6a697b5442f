import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import type { Logger } from "@kindred/logging";
import type { PageTokens } from "@kindred/paging";
import type { IdentitySettings } from "./config.ts";
import type { IdentityDatabase } from "./db/schema.ts";
import type { LoginLimiter } from "./login-limiter.ts";
import type { EmailVault } from "./pii.ts";
import type { ProfileCache } from "./profile-cache.ts";
import type { Sessions } from "./sessions.ts";

/** What identity's RPC handlers, consumers and commands work with. */
export interface IdentityDeps {
  db: Database<IdentityDatabase>;
  outbox: Outbox;
  vault: EmailVault;
  sessions: Sessions;
  limiter: LoginLimiter;
  /** GetUser's public profiles; UpdateProfile and DeleteAccount invalidate them. */
  profiles: ProfileCache;
  logger: Logger;
  settings: IdentitySettings;
  /** Signs the page tokens of list methods, so clients cannot forge or move them. */
  pageTokens: PageTokens;
}
