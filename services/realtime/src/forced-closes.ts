import {
  identityEvents,
  identityStream,
  moderationEvents,
  moderationStream,
} from "@kindred/event-catalog";
import type { Logger } from "@kindred/logging";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import { CloseCode } from "@kindred/proto/realtime/v1";
import type { ConnectedUsers } from "./connected-users.ts";
import { type Feed, feed } from "./feeds.ts";

/** The restrictions that end an account's sign-in, and with it its live connections. */
const signedOut = new Set([AccountRestrictionKind.SUSPENDED, AccountRestrictionKind.BANNED]);

/**
 * Closes live sockets whose access ended, with 4003 (session revoked) and a reason that tells
 * nothing more; the client signs in again, which identity refuses while the reason lasts.
 *
 * - `identity.session.revoked.v1` names one session (identity publishes one event per session,
 *   also for "sign out everywhere", a password change, a deleted or restricted account): the
 *   sockets authenticated with that session's tokens (`sid`) are closed, the user's others stay.
 * - `moderation.account.restricted.v1` of kind SUSPENDED or BANNED closes every socket of the
 *   user, whatever its session, without waiting for identity to revoke the sessions (identity's
 *   revocations follow, and close any socket the client reopened in between). Lifts and SOS
 *   restrictions leave the sockets open.
 */
export function forcedCloseFeeds(users: ConnectedUsers, logger: Logger): Feed[] {
  return [
    feed(identityStream, identityEvents.sessionRevoked, ({ message, metadata, sequence }) => {
      if (message.sessionId === "") {
        logger.warn({ eventId: metadata.id, sequence }, "session revocation without a session id");
        return;
      }
      const connections = users.ofSession(message.sessionId);
      for (const connection of connections) {
        connection.close(CloseCode.SESSION_REVOKED, "session revoked", "session_revoked");
      }
      if (connections.length > 0) {
        logger.info(
          { userId: message.userId, closed: connections.length, reason: message.reason },
          "closed the sockets of a revoked session",
        );
      }
    }),
    feed(moderationStream, moderationEvents.accountRestricted, ({ message }) => {
      if (!signedOut.has(message.kind)) return;
      const connections = users.ofUser(message.userId);
      for (const connection of connections) {
        connection.close(CloseCode.SESSION_REVOKED, "account restricted", "account_restricted");
      }
      if (connections.length > 0) {
        logger.info(
          { userId: message.userId, closed: connections.length, kind: message.kind },
          "closed the sockets of a restricted account",
        );
      }
    }),
  ];
}
