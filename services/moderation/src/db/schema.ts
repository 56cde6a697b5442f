import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

/** The tables of `kindred_moderation`, as Kysely sees them. */
export interface ModerationDatabase extends EventTables {
  /** Content waiting for the rules pipeline (issue 6 scans it). */
  scan_item: {
    event_id: string;
    content_kind: "post" | "response";
    content_id: string;
    circle_id: string;
    author_id: string;
    body: string;
    status: Generated<"pending" | "scanned">;
    received_at: Generated<Date>;
  };
}
