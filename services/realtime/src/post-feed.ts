import { contentEvents, contentStream as contentStreamSpec } from "@kindred/event-catalog";
import type { LiveEvent } from "@kindred/events";
import type { ChannelHub } from "./channel-hub.ts";
import { postCreatedFrame } from "./frames.ts";

/** The content service's stream and the event realtime reads from it (the shared catalog's). */
export const contentStream = contentStreamSpec.name;
export const postCreated = contentEvents.postCreated;

export function circleChannel(circleId: string): string {
  return `circle:${circleId.toLowerCase()}`;
}

/**
 * Sends each created post to the sockets subscribed to its circle, with the stream sequence as
 * the channel's cursor (increasing within a channel, though not consecutive).
 */
export function fanOutPostCreated(hub: ChannelHub) {
  return ({ message, metadata, sequence }: LiveEvent<typeof postCreated.schema>): void => {
    const channel = circleChannel(message.circleId);
    hub.publish(channel, postCreatedFrame(channel, String(sequence), message, metadata));
  };
}
