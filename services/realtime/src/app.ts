import { createAccessTokenVerifier } from "@kindred/auth";
import { eventNamespace, type LiveSubscription, subscribeLive } from "@kindred/events";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import { ChannelHub } from "./channel-hub.ts";
import type { RealtimeConfig } from "./config.ts";
import { Connection } from "./connection.ts";
import { realtimeMetrics } from "./metrics.ts";
import { contentStream, fanOutPostCreated, postCreated } from "./post-feed.ts";
import type { TokenVerifier } from "./token-verifier.ts";
import { WebSocketEndpoint } from "./websocket-endpoint.ts";
import { WsTransport } from "./ws-transport.ts";

export interface RealtimeOverrides extends Partial<BaseDependencies> {
  /** Checks access tokens; by default `@kindred/auth` with the configured keys. */
  verifier?: TokenVerifier;
}

/**
 * The composition root of realtime: live connections only, no durable state, no database.
 * Every instance reads the content stream live and fans its events out to its own sockets.
 */
export function createApp(config: RealtimeConfig, overrides: RealtimeOverrides = {}): ServiceHost {
  const { verifier, ...base } = overrides;
  const kit = new ServiceKit(config.server, base);
  const { logger } = kit;
  const limits = config.extra;
  const nats = kit.nats(config.nats);
  const metrics = realtimeMetrics(kit.metrics.registry);
  const hub = new ChannelHub();

  let feed: LiveSubscription | undefined;
  kit.lifecycle.add(
    "content-events",
    () => {
      feed = subscribeLive({
        nats,
        stream: contentStream,
        event: postCreated,
        namespace: eventNamespace(limits.EVENTS_NAMESPACE),
        deliver: "new",
        onEvent: fanOutPostCreated(hub),
        logger,
      });
    },
    async () => {
      await feed?.[Symbol.asyncDispose]();
    },
  );
  kit.checks.push({
    name: "content-events",
    // The content service creates its stream; until it exists this instance cannot deliver.
    check: async () => {
      if (feed?.established !== true) throw new Error(`not reading ${postCreated.subject} yet`);
      return { lastSequence: feed.lastSequence };
    },
  });

  const endpoint = new WebSocketEndpoint({
    transport: new WsTransport({
      maxFrameBytes: limits.REALTIME_MAX_FRAME_BYTES,
      pingIntervalMs: limits.REALTIME_PING_INTERVAL_MS,
      logger,
    }),
    verifier:
      verifier ??
      createAccessTokenVerifier(config.auth, {
        revocations: kit.sessionRevocations(nats, {
          namespace: limits.EVENTS_NAMESPACE,
          lookbackMs: config.auth.revocationLookbackMs,
        }),
      }),
    logger,
    connect: (socket, codec, userId) =>
      new Connection(socket, codec, userId, {
        hub,
        metrics,
        logger,
        maxBufferedBytes: limits.REALTIME_MAX_BUFFERED_BYTES,
        maxSubscriptions: limits.REALTIME_MAX_SUBSCRIPTIONS,
        cursor: () => String(feed?.lastSequence ?? 0),
      }),
  });
  return kit.host({
    fallback: endpoint.fallback,
    onUpgrade: endpoint.upgrade,
    onDrain: (deadline) => endpoint.shutdown(deadline),
  });
}
