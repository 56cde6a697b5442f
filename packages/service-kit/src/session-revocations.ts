import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { SessionRevocations } from "@kindred/auth";
import { identityEvents, identityStream } from "@kindred/event-catalog";
import {
  type EventNamespace,
  type LiveEvent,
  type LiveSubscription,
  subscribeLive,
} from "@kindred/events";
import type { NatsClient } from "@kindred/nats";
import type { Logger } from "@kindred/resilience";

export const sessionRevoked = identityEvents.sessionRevoked;

export interface RevocationFeedOptions {
  nats: NatsClient;
  namespace?: EventNamespace;
  /**
   * Revocations published up to this long before the feed starts are applied too: the longest
   * access-token lifetime plus clock skew (`AUTH_REVOCATION_LOOKBACK_MS`).
   */
  lookbackMs: number;
  revocations: SessionRevocations;
  logger: Logger;
  retry?: { initialMs: number; maxMs: number };
}

/**
 * Fills a revocation list from identity's `identity.session.revoked.v1` events: a replay of the
 * last `lookbackMs` at start (so a process that just restarted still refuses tokens of sessions
 * revoked shortly before), then live. It is a fan-out like every live subscription: each
 * process sees every revocation. While NATS is down it keeps trying; revocations published in
 * the meantime are applied when it catches up, in order.
 */
export function followSessionRevocations(options: RevocationFeedOptions): LiveSubscription {
  const { revocations, lookbackMs, logger } = options;
  return subscribeLive({
    nats: options.nats,
    stream: identityStream.name,
    event: sessionRevoked,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    deliver: { sinceTime: new Date(Date.now() - lookbackMs) },
    onEvent: ({ message, metadata, sequence }: LiveEvent<typeof sessionRevoked.schema>) => {
      if (message.sessionId === "") {
        logger.warn({ eventId: metadata.id, sequence }, "session revocation without a session id");
        return;
      }
      // Identity always says when the session's last token expires; were it missing, the longest
      // lifetime after the revocation is the safe guess.
      const until =
        message.tokensExpireAt === undefined
          ? new Date(metadata.occurredAt.getTime() + lookbackMs)
          : timestampDate(message.tokensExpireAt);
      revocations.revoke(message.sessionId, until);
    },
    logger,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
}
