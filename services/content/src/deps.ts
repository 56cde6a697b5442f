import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import type { PageTokens } from "@kindred/paging";
import type { AccessRules } from "./access.ts";
import type { ContentDatabase } from "./db/schema.ts";

/** What PostService's handlers share; built once in `app.ts`. */
export interface PostDeps {
  db: Database<ContentDatabase>;
  outbox: Outbox;
  access: AccessRules;
  pageTokens: PageTokens;
}
