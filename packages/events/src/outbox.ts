import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { currentLogContext } from "@kindred/logging";
import { context, propagation } from "@opentelemetry/api";
import { sql, type Transaction } from "kysely";
import type { EventType } from "./event-type.ts";
import { newEventId } from "./ids.ts";
import { type EventMetadata, toHeaders } from "./metadata.ts";
import { type EventNamespace, noNamespace, subjectIn } from "./namespace.ts";

export interface EnqueueOptions {
  /** Who did it: a user id, or `system:<component>`. */
  actorId: string;
  /** The id of the aggregate the event concerns (its type comes from the event type). */
  aggregateId: string;
  /** Defaults to the current request's correlation id. */
  correlationId?: string;
  occurredAt?: Date;
}

/**
 * Writes events into the service's outbox as part of the caller's transaction: the event exists
 * exactly when the business change it describes does. The relay publishes it later.
 */
export class Outbox {
  readonly producer: string;
  readonly namespace: EventNamespace;

  constructor(producer: string, namespace: EventNamespace = noNamespace) {
    this.producer = producer;
    this.namespace = namespace;
  }

  /**
   * Adds one event to the outbox inside `trx`. Takes a transaction-scoped lock on the aggregate,
   * so two transactions writing events of one aggregate commit in the order their rows are
   * numbered, and the relay publishes them in commit order.
   */
  async enqueue<Desc extends DescMessage>(
    // biome-ignore lint/suspicious/noExplicitAny: any service database; only our tables are used
    trx: Transaction<any>,
    type: EventType<Desc>,
    message: MessageInitShape<Desc>,
    options: EnqueueOptions,
  ): Promise<EventMetadata> {
    if (!(trx as { isTransaction?: boolean }).isTransaction) {
      throw new TypeError("Outbox.enqueue needs the caller's transaction, not a connection");
    }
    const id = newEventId();
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    const meta: EventMetadata = {
      id,
      type: type.name,
      version: type.version,
      producer: this.producer,
      occurredAt: options.occurredAt ?? new Date(),
      actorId: options.actorId,
      aggregateType: type.aggregateType,
      aggregateId: options.aggregateId,
      correlationId: options.correlationId ?? currentLogContext()?.correlationId ?? id,
      ...(carrier.traceparent === undefined ? {} : { traceparent: carrier.traceparent }),
      ...(carrier.tracestate === undefined ? {} : { tracestate: carrier.tracestate }),
    };
    const aggregateKey = `${type.aggregateType}:${options.aggregateId}`;
    const payload = toBinary(type.schema, create(type.schema, message));
    await sql`select pg_advisory_xact_lock(hashtextextended(${aggregateKey}, 0))`.execute(trx);
    await sql`
      insert into event_outbox (id, aggregate_key, subject, headers, payload)
      values (${id}, ${aggregateKey}, ${subjectIn(this.namespace, type.subject)},
              ${JSON.stringify(toHeaders(meta, type.schema.typeName))}, ${Buffer.from(payload)})`.execute(
      trx,
    );
    return meta;
  }
}
