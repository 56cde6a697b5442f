import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { EventMetadata } from "@kindred/events";
import type { PostCreated } from "@kindred/proto/content/events/v1";
import { PostSchema } from "@kindred/proto/content/v1";
import {
  type ErrorCode,
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

/** `content.post.created.v1` as the event frame of its circle's channel. */
export function postCreatedFrame(
  channel: string,
  cursor: string,
  post: PostCreated,
  metadata: EventMetadata,
): ServerMessage {
  return message({
    case: "event",
    value: {
      channel,
      cursor,
      occurredAt: timestampFromDate(metadata.occurredAt),
      event: {
        case: "postCreated",
        value: create(PostSchema, {
          id: post.postId,
          circleId: post.circleId,
          authorId: post.authorId,
          body: post.body,
          contentWarning: post.contentWarning,
          version: post.version,
          createdAt: post.createdAt,
          expiresAt: post.expiresAt,
        }),
      },
    },
  });
}
