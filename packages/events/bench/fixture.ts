import { randomUUID } from "node:crypto";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { PostCreatedSchema } from "@kindred/proto/content/events/v1";
import { defineEvent, type EventHeaders, newEventId, toHeaders } from "../src/index.ts";

/** The event every measurement sends: the content service's `PostCreated`. */
export const postCreated = defineEvent(PostCreatedSchema, "content.post.created.v1");

export const producer = "content";
const circleId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
export const authorId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11";
const body =
  "Had a rough week, but this circle keeps me going. I tried the breathing exercise before " +
  "the interview on Tuesday and it helped more than I expected. Thank you all for listening.";

/** A post of realistic size (three UUIDs, ~180 characters of text, a timestamp). */
export function postMessage(postId: string): MessageInitShape<typeof PostCreatedSchema> {
  return { postId, circleId, authorId, body, createdAt: timestampNow(), version: 1n };
}

export interface RawEvent {
  id: string;
  payload: Uint8Array;
  headers: EventHeaders;
}

/** The same bytes and headers `Outbox.enqueue` would store for a new post (no trace context). */
export function rawEvent(): RawEvent {
  const id = newEventId();
  const postId = randomUUID();
  const headers = toHeaders(
    {
      id,
      type: postCreated.name,
      version: postCreated.version,
      producer,
      occurredAt: new Date(),
      actorId: authorId,
      aggregateType: postCreated.aggregateType,
      aggregateId: postId,
      correlationId: id,
    },
    PostCreatedSchema.typeName,
  );
  const payload = toBinary(PostCreatedSchema, create(PostCreatedSchema, postMessage(postId)));
  return { id, payload, headers };
}

/** Bytes of the NATS header block for `headers` (`NATS/1.0\r\n`, `k: v\r\n`…, `\r\n`). */
export function headerBytes(headers: EventHeaders): number {
  let n = "NATS/1.0\r\n\r\n".length;
  for (const [k, v] of Object.entries(headers)) n += Buffer.byteLength(`${k}: ${v}\r\n`);
  return n;
}
