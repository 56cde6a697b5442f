import { identityEvents, identityStream } from "@kindred/event-catalog";
import type { ConnectedUsers } from "./connected-users.ts";
import { type Feed, feed } from "./feeds.ts";

/**
 * Applies blocks to live delivery at once: from `identity.user.blocked.v1` on, neither of the
 * two users connected here gets frames carrying the other's content; `identity.user.unblocked.v1`
 * lifts it (unless the other has blocked too).
 *
 * Limitation: realtime learns blocks only from these events, for users connected here when
 * they arrive; it holds no block list at connect. A block made before the user's first
 * connection on this instance opened is not applied to live frames: the content service already
 * hides blocked users' content from every read, so the client's next fetch drops it. Replaying
 * the user's block list at connect is left to the realtime issue that adds membership checks.
 */
export function blockFeeds(users: ConnectedUsers): Feed[] {
  return [
    feed(identityStream, identityEvents.userBlocked, ({ message, sequence }) =>
      users.applyBlock(message.blockerId, message.blockedId, true, sequence),
    ),
    feed(identityStream, identityEvents.userUnblocked, ({ message, sequence }) =>
      users.applyBlock(message.blockerId, message.blockedId, false, sequence),
    ),
  ];
}
