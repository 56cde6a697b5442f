/**
 * What travels with every event, as NATS message headers (ADR 8): a consumer can route, dedupe,
 * trace and dead-letter an event without decoding its payload, and the payload stays the plain
 * protobuf message of the event type.
 */
export interface EventMetadata {
  /**
   * UUIDv7, in `Kindred-Event-Id`; also the `Nats-Msg-Id` of its first publish, so JetStream
   * drops a re-publish inside its duplicate window (a deliberate `republish` uses a suffix).
   */
  id: string;
  /** `content.post.created` */
  type: string;
  /** Major schema version. */
  version: number;
  /** The deployable that produced it. */
  producer: string;
  occurredAt: Date;
  /** Who did it: a user id, or `system:<component>`. */
  actorId: string;
  aggregateType: string;
  aggregateId: string;
  /** Follows one user action across services and events. */
  correlationId: string;
  /** W3C trace context of the write that produced the event. */
  traceparent?: string;
  tracestate?: string;
}

/** JetStream's de-duplication header (the event id, `:<n>` for the n-th deliberate republish). */
export const natsMsgIdHeader = "Nats-Msg-Id";

export const headerNames = {
  id: "Kindred-Event-Id",
  type: "Kindred-Event-Type",
  version: "Kindred-Event-Version",
  producer: "Kindred-Producer",
  occurredAt: "Kindred-Occurred-At",
  actorId: "Kindred-Actor-Id",
  aggregateType: "Kindred-Aggregate-Type",
  aggregateId: "Kindred-Aggregate-Id",
  correlationId: "Kindred-Correlation-Id",
  traceparent: "traceparent",
  tracestate: "tracestate",
  contentType: "Content-Type",
} as const;

export type EventHeaders = Record<string, string>;

export function toHeaders(meta: EventMetadata, messageType: string): EventHeaders {
  const headers: EventHeaders = {
    [headerNames.id]: meta.id,
    [natsMsgIdHeader]: meta.id,
    [headerNames.type]: meta.type,
    [headerNames.version]: String(meta.version),
    [headerNames.producer]: meta.producer,
    [headerNames.occurredAt]: meta.occurredAt.toISOString(),
    [headerNames.actorId]: meta.actorId,
    [headerNames.aggregateType]: meta.aggregateType,
    [headerNames.aggregateId]: meta.aggregateId,
    [headerNames.correlationId]: meta.correlationId,
    [headerNames.contentType]: `application/x-protobuf; messageType=${messageType}`,
  };
  if (meta.traceparent !== undefined) headers[headerNames.traceparent] = meta.traceparent;
  if (meta.tracestate !== undefined) headers[headerNames.tracestate] = meta.tracestate;
  return headers;
}

export class MalformedEventError extends Error {
  override readonly name = "MalformedEventError";
}

/** Reads metadata back; throws `MalformedEventError` naming what is missing or wrong. */
export function fromHeaders(get: (name: string) => string | undefined): EventMetadata {
  const required = (key: keyof typeof headerNames) => {
    const value = get(headerNames[key]);
    if (value === undefined || value === "") {
      throw new MalformedEventError(`event header ${headerNames[key]} is missing`);
    }
    return value;
  };
  const version = Number(required("version"));
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new MalformedEventError(`event header ${headerNames.version} is not a positive integer`);
  }
  const occurredAt = new Date(required("occurredAt"));
  if (Number.isNaN(occurredAt.getTime())) {
    throw new MalformedEventError(`event header ${headerNames.occurredAt} is not a timestamp`);
  }
  const meta: EventMetadata = {
    id: required("id"),
    type: required("type"),
    version,
    producer: required("producer"),
    occurredAt,
    actorId: required("actorId"),
    aggregateType: required("aggregateType"),
    aggregateId: required("aggregateId"),
    correlationId: required("correlationId"),
  };
  const traceparent = get(headerNames.traceparent);
  const tracestate = get(headerNames.tracestate);
  if (traceparent) meta.traceparent = traceparent;
  if (tracestate) meta.tracestate = tracestate;
  return meta;
}
