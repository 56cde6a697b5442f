import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import type { EventType } from "@kindred/events";
import { PostSchema } from "@kindred/proto/content/v1";
import type { ChannelHub } from "./channel-hub.ts";
import { circleChannel } from "./channels.ts";
import { type Feed, feed } from "./feeds.ts";
import { type EventCase, eventFrame } from "./frames.ts";

/** How one content event reaches the sockets subscribed to its circle. */
interface CircleRoute<Message> {
  circleId(message: Message): string;
  /** The frame's event. */
  event(message: Message): EventCase;
  /**
   * The user whose content the frame carries: a connection that hides them (a block, either
   * way) does not get it. Unset for frames that carry nothing of anyone's, such as removals.
   */
  authorId?(message: Message): string;
}

function toCircle<Desc extends DescMessage>(
  event: EventType<Desc>,
  route: CircleRoute<MessageShape<Desc>>,
): (hub: ChannelHub) => Feed {
  return (hub) =>
    feed(contentStream, event, ({ message, metadata, sequence }) => {
      const channel = circleChannel(route.circleId(message));
      const frame = eventFrame(
        channel,
        String(sequence),
        metadata.occurredAt,
        route.event(message),
      );
      hub.publish(channel, frame, route.authorId?.(message));
    });
}

/**
 * The content events realtime fans out to circle channels, with the stream sequence as the
 * channel's cursor. Removals carry every reason alike (the author, a circle moderator, a
 * moderation decision, held for review, the account deleted): clients drop the item; a post
 * held for review that comes back arrives by `content.post.restored.v1` (not fanned out yet).
 */
const circleRoutes = [
  toCircle(contentEvents.postCreated, {
    circleId: (post) => post.circleId,
    authorId: (post) => post.authorId,
    event: (post) => ({
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
    }),
  }),
  toCircle(contentEvents.postRemoved, {
    circleId: (removed) => removed.circleId,
    event: (removed) => ({
      case: "postRemoved",
      value: { postId: removed.postId, circleId: removed.circleId },
    }),
  }),
  toCircle(contentEvents.responseRemoved, {
    circleId: (removed) => removed.circleId,
    event: (removed) => ({
      case: "responseRemoved",
      value: {
        responseId: removed.responseId,
        postId: removed.postId,
        circleId: removed.circleId,
      },
    }),
  }),
];

/** One feed per content event that circle channels carry. */
export function contentFeeds(hub: ChannelHub): Feed[] {
  return circleRoutes.map((route) => route(hub));
}
