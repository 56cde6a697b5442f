import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
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
