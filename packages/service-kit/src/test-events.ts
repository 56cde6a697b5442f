import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { identityEvents, identityStream } from "@kindred/event-catalog";
import {
  applyTopology,
  type EventMetadata,
  type EventNamespace,
  type EventType,
  eventNamespace,
  newEventId,
  type StreamSpec,
  subjectIn,
  toHeaders,
} from "@kindred/events";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";

/**
 * Publishes one event the way a producer's relay would (same headers, `Nats-Msg-Id`), creating
 * the producer's stream first: consumer tests use it in place of the producing service.
 */
export async function publishTestEvent<Desc extends DescMessage>(options: {
  natsUrl: string;
  namespace: EventNamespace;
  stream: StreamSpec;
  event: EventType<Desc>;
  message: MessageInitShape<Desc>;
  aggregateId: string;
  actorId?: string;
}): Promise<EventMetadata> {
  const nc = await connect({ servers: options.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await applyTopology(jsm, [options.stream], {
      replicas: 1,
      maxBytes: -1,
      namespace: options.namespace,
      logger: { info() {} },
    });
    const meta: EventMetadata = {
      id: newEventId(),
      type: options.event.name,
      version: options.event.version,
      producer: options.event.domain,
      occurredAt: new Date(),
      actorId: options.actorId ?? "system:test",
      aggregateType: options.event.aggregateType,
      aggregateId: options.aggregateId,
      correlationId: newEventId(),
    };
    const h = natsHeaders();
    for (const [k, v] of Object.entries(toHeaders(meta, options.event.schema.typeName)))
      h.set(k, v);
    const payload = toBinary(options.event.schema, create(options.event.schema, options.message));
    await jetstream(nc).publish(subjectIn(options.namespace, options.event.subject), payload, {
      msgID: meta.id,
      headers: h,
    });
    return meta;
  } finally {
    await nc.close();
  }
}

/**
 * Publishes an event that was already delivered again, with its original event id (as an
 * operator's `republish` would, past JetStream's de-duplication window by a new `Nats-Msg-Id`):
 * consumer tests use it to show that a redelivery changes nothing.
 */
export async function redeliverTestEvent<Desc extends DescMessage>(options: {
  natsUrl: string;
  namespace: EventNamespace;
  event: EventType<Desc>;
  message: MessageInitShape<Desc>;
  meta: EventMetadata;
}): Promise<void> {
  const nc = await connect({ servers: options.natsUrl });
  try {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(toHeaders(options.meta, options.event.schema.typeName)))
      h.set(k, v);
    await jetstream(nc).publish(
      subjectIn(options.namespace, options.event.subject),
      toBinary(options.event.schema, create(options.event.schema, options.message)),
      { msgID: `${options.meta.id}:1`, headers: h },
    );
  } finally {
    await nc.close();
  }
}

/** Deletes every stream of a test's namespace (and with them their consumers). */
export async function deleteNamespaceStreams(
  natsUrl: string,
  namespace: EventNamespace,
): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const prefix = `${namespace.prefix.toUpperCase()}_`;
    for await (const name of jsm.streams.names()) {
      if (namespace.prefix !== "" && name.startsWith(prefix)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}

/** `SESSION_REVOCATION_REASON_LOGGED_OUT`, without a dependency on the generated code. */
const loggedOut = 1;

/**
 * Publishes a `SessionRevoked` as identity's relay would (creating the IDENTITY stream first):
 * for tests of the services and the gateway that refuse a revoked session's tokens.
 */
export function publishTestRevocation(options: {
  natsUrl: string;
  /** The `EVENTS_NAMESPACE` of the processes under test. */
  namespace: string;
  sessionId: string;
  userId?: string;
  /** When the session's last access token expires: the revocation holds until then. */
  tokensExpireAt: Date;
}): Promise<EventMetadata> {
  const revokedAt = new Date();
  return publishTestEvent({
    natsUrl: options.natsUrl,
    namespace: eventNamespace(options.namespace),
    stream: identityStream,
    event: identityEvents.sessionRevoked,
    message: {
      sessionId: options.sessionId,
      userId: options.userId ?? "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b99",
      reason: loggedOut,
      revokedAt: timestampFromDate(revokedAt),
      tokensExpireAt: timestampFromDate(options.tokensExpireAt),
    },
    aggregateId: options.sessionId,
    actorId: options.userId ?? "system:test",
  });
}
