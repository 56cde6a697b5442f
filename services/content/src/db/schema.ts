import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

/** The tables of `kindred_content`, as Kysely sees them. */
export interface ContentDatabase extends EventTables {
  post: {
    id: string;
    circle_id: string;
    author_id: string;
    body: string;
    content_warning: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    expires_at: Date | null;
    version: Generated<string>;
    deleted_at: Date | null;
  };
}
