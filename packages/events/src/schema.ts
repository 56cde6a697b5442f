import type { ColumnType, Generated } from "kysely";
import type { EventHeaders } from "./metadata.ts";

/** Tables the event backbone adds to a service's database (see `eventMigrations`). */
export interface EventTables {
  event_outbox: {
    /** The event id (UUIDv7), also `Nats-Msg-Id`. */
    id: string;
    /** Insertion order; within one aggregate also commit order (enqueue locks the aggregate). */
    seq: Generated<string>;
    aggregate_key: string;
    subject: string;
    headers: ColumnType<EventHeaders, string, string>;
    payload: Uint8Array;
    created_at: Generated<Date>;
    sent_at: Date | null;
    /** Times an operator re-sent it (`republish`); part of its `Nats-Msg-Id` when above 0. */
    republish_count: Generated<number>;
  };
  event_inbox: {
    consumer: string;
    event_id: string;
    handled_at: Generated<Date>;
  };
  event_dead_letter: {
    id: string;
    consumer: string;
    event_id: string;
    subject: string;
    headers: ColumnType<EventHeaders, string, string>;
    payload: Uint8Array;
    error: string;
    attempts: number;
    failed_at: Generated<Date>;
    replayed_at: Date | null;
  };
}
