import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

/** The tables of `kindred_notifier`, as Kysely sees them. */
export interface NotifierDatabase extends EventTables {
  /** What the notifier decided to do about one event, and why (the delivery log starts here). */
  delivery_decision: {
    event_id: string;
    event_type: string;
    circle_id: string;
    subject_id: string;
    decision: "push" | "skip";
    reason: string;
    decided_at: Generated<Date>;
  };
}
