import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type ErrorCode,
  type EventFrameSchema,
  SchemaVersion,
  type ServerMessage,
  ServerMessageSchema,
  UnsubscribeReason,
} from "@kindred/proto/realtime/v1";

/** Builders of the server's frames; every one carries the schema version. */

type Frame = MessageInitShape<typeof ServerMessageSchema>["frame"];

function message(frame: Frame, ref = ""): ServerMessage {
  return create(ServerMessageSchema, { schemaVersion: SchemaVersion.SCHEMA_VERSION_1, ref, frame });
}

export function subscribedFrame(ref: string, channel: string, cursor: string): ServerMessage {
  return message({ case: "subscribed", value: { channel, cursor } }, ref);
}

export function unsubscribedFrame(ref: string, channel: string): ServerMessage {
  return message(
    { case: "unsubscribed", value: { channel, reason: UnsubscribeReason.REQUESTED } },
    ref,
  );
}

export function outdatedCursorFrame(ref: string, channel: string, cursor: string): ServerMessage {
  return message({ case: "outdatedCursor", value: { channel, cursor } }, ref);
}

export function errorFrame(
  ref: string,
  code: ErrorCode,
  text: string,
  channel = "",
): ServerMessage {
  return message({ case: "error", value: { code, message: text, channel } }, ref);
}

/** The connection is authenticated (or re-authenticated): whose token it is, and until when. */
export function authenticatedFrame(
  ref: string,
  userId: string,
  expiresAt: Date | undefined,
): ServerMessage {
  return message(
    {
      case: "authenticated",
      value: {
        userId,
        ...(expiresAt === undefined ? {} : { expiresAt: timestampFromDate(expiresAt) }),
      },
    },
    ref,
  );
}

/**
 * `dropped` frames of `channel` did not reach a client that read too slowly; `resumeCursor` is
 * the cursor of the last frame of the channel it got before them (empty when it got none on
 * this connection: it resumes from the cursor it subscribed with or was given).
 */
export function gapFrame(channel: string, dropped: number, resumeCursor: string): ServerMessage {
  return message({ case: "gap", value: { channel, dropped, resumeCursor } });
}

export function pongFrame(ref: string, nonce: string): ServerMessage {
  return message({ case: "pong", value: { nonce } }, ref);
}

/** What an event frame says happened: one case of `EventFrame.event`. */
export type EventCase = Exclude<
  MessageInitShape<typeof EventFrameSchema>["event"],
  { case: undefined } | undefined
>;

/**
 * An event of a channel. `cursor` is the event's stream sequence: increasing within a channel,
 * though not consecutive.
 */
export function eventFrame(
  channel: string,
  cursor: string,
  occurredAt: Date,
  event: EventCase,
): ServerMessage {
  return message({
    case: "event",
    value: { channel, cursor, occurredAt: timestampFromDate(occurredAt), event },
  });
}

/** What the outbound queue of a connection needs to know of an event frame. */
export interface Delivery {
  /** The frame's channel: a dropped frame is counted there, and its gap notice names it. */
  readonly channel: string;
  /** The frame's cursor in the channel: the resume cursor of a gap that follows it. */
  readonly cursor: string;
  /** Never dropped, even over the connection's limits: the SOS frames. */
  readonly critical: boolean;
  /** When the event was committed, for the commit → frame latency; unset if unknown. */
  readonly occurredAt: Date | undefined;
}

/** The events whose frames are never dropped for a slow client. */
const criticalEvents = new Set<string | undefined>([
  "sosRaised",
  "sosAcknowledged",
  "sosEscalated",
  "sosResolved",
]);

/** Computed once per message: a publication reaches many connections, and is not changed after. */
const deliveries = new WeakMap<ServerMessage, Delivery | undefined>();

/**
 * How a connection's outbound queue treats `message`: an event frame may be dropped for a slow
 * client (unless critical) and is counted per channel; other frames (replies, notices) are
 * `undefined`: never dropped, as they answer the client or tell it about its connection.
 */
export function deliveryOf(message: ServerMessage): Delivery | undefined {
  if (deliveries.has(message)) return deliveries.get(message);
  let delivery: Delivery | undefined;
  if (message.frame.case === "event") {
    const event = message.frame.value;
    delivery = {
      channel: event.channel,
      cursor: event.cursor,
      critical: criticalEvents.has(event.event.case),
      occurredAt: event.occurredAt === undefined ? undefined : timestampDate(event.occurredAt),
    };
  }
  deliveries.set(message, delivery);
  return delivery;
}
