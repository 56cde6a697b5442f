export {
  type ConsumerOptions,
  type ConsumerSpec,
  EventConsumer,
  type HandlerTransaction,
  PermanentFailure,
  type ReceivedEvent,
} from "./consumer.ts";
export {
  type DeadLetter,
  listDeadLetters,
  type Replayer,
  type ReplayResult,
  replayDeadLetters,
  storeDeadLetter,
} from "./dead-letters.ts";
export { defineEvent, type EventType } from "./event-type.ts";
export { newEventId } from "./ids.ts";
export {
  type LiveDeliver,
  type LiveEvent,
  type LiveSubscription,
  type LiveSubscriptionOptions,
  subscribeLive,
} from "./live-subscription.ts";
export {
  type EventHeaders,
  type EventMetadata,
  fromHeaders,
  headerNames,
  MalformedEventError,
  toHeaders,
} from "./metadata.ts";
export { eventMigrations, outboxChannel } from "./migrations.ts";
export {
  type EventNamespace,
  eventNamespace,
  noNamespace,
  streamIn,
  subjectIn,
} from "./namespace.ts";
export { type EnqueueOptions, Outbox } from "./outbox.ts";
export {
  type EventPublisher,
  jetStreamPublisher,
  OutboxRelay,
  type RelayOptions,
  type RelayStatus,
  republishSince,
} from "./relay.ts";
export { deleteOldInboxEntries, deletePublishedOutboxRows } from "./retention.ts";
export type { EventTables } from "./schema.ts";
export { applyTopology, type StreamSpec, type TopologyOptions } from "./topology.ts";
