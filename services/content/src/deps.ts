import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import type { PageTokens } from "@kindred/paging";
import type { AccessRules } from "./access.ts";
import type { ContentDatabase } from "./db/schema.ts";
import type { FeedCache } from "./feed-cache.ts";
import type { SosRules } from "./sos-access.ts";

/** What PostService's handlers share; built once in `app.ts`. */
export interface PostDeps {
  db: Database<ContentDatabase>;
  outbox: Outbox;
  access: AccessRules;
  pageTokens: PageTokens;
  /** Feed pages; every write of a post or response invalidates its circle after commit. */
  feedCache: FeedCache;
}

/** What SupportService's handlers share; built once in `app.ts`. */
export interface SosDeps {
  db: Database<ContentDatabase>;
  outbox: Outbox;
  access: AccessRules;
  sos: SosRules;
  pageTokens: PageTokens;
  /** SOS alerts one user may raise in any hour. */
  maxPerHour: number;
}
