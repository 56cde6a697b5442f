import { createConnectTransport } from "@connectrpc/connect-node";
import { createAccessTokenVerifier } from "@kindred/auth";
import {
  circlesStream,
  contentStream,
  identityStream,
  moderationStream,
} from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import { blockFeeds } from "./blocks.ts";
import { ChannelHub } from "./channel-hub.ts";
import { isUserChannel } from "./channels.ts";
import { type CircleAccess, CirclesAccess } from "./circle-access.ts";
import { connectionLimits, type RealtimeConfig } from "./config.ts";
import { ConnectedUsers } from "./connected-users.ts";
import { Connection } from "./connection.ts";
import { contentFeeds } from "./content-fan-out.ts";
import { LiveFeeds } from "./feeds.ts";
import { forcedCloseFeeds } from "./forced-closes.ts";
import { membershipFeeds } from "./membership-fan-out.ts";
import { realtimeMetrics } from "./metrics.ts";
import { moderationFeeds } from "./moderation-outcomes.ts";
import { type ContentHistory, JetStreamContentHistory } from "./replay.ts";
import type { TokenVerifier } from "./token-verifier.ts";
import { WebSocketEndpoint } from "./websocket-endpoint.ts";
import { WsTransport } from "./ws-transport.ts";

export interface RealtimeOverrides extends Partial<BaseDependencies> {
  /** Checks access tokens; by default `@kindred/auth` with the configured keys. */
  verifier?: TokenVerifier;
  /** Who may subscribe to a circle; by default circles' GetCircle at `CIRCLES_URL`. */
  access?: CircleAccess;
  /** Where resumes replay from; by default the CONTENT stream. */
  history?: ContentHistory;
}

/**
 * The composition root of realtime: live connections only, no durable state, no database.
 * Every instance reads the content, moderation and identity streams live and applies their
 * events to its own sockets: fan-out to channels, forced closes, blocks.
 */
export function createApp(config: RealtimeConfig, overrides: RealtimeOverrides = {}): ServiceHost {
  const { verifier, access: accessOverride, history: historyOverride, ...base } = overrides;
  const kit = new ServiceKit(config.server, base);
  const { logger } = kit;
  const limits = config.extra;
  const nats = kit.nats(config.nats);
  const metrics = realtimeMetrics(kit.metrics.registry);
  const hub = new ChannelHub();
  const users = new ConnectedUsers();
  const namespace = eventNamespace(limits.EVENTS_NAMESPACE);
  const access =
    accessOverride ??
    new CirclesAccess({
      transport: createConnectTransport({ baseUrl: limits.CIRCLES_URL, httpVersion: "1.1" }),
      timeoutMs: limits.REALTIME_MEMBERSHIP_TIMEOUT_MS,
      cacheMs: limits.REALTIME_MEMBERSHIP_CACHE_MS,
      logger,
      registry: kit.metrics.registry,
    });
  const history = historyOverride ?? new JetStreamContentHistory({ nats, namespace, logger });

  const feeds = new LiveFeeds([
    ...contentFeeds(hub),
    ...moderationFeeds(hub, logger),
    ...forcedCloseFeeds(users, logger),
    ...blockFeeds(users),
    ...membershipFeeds(hub, access, (channel) => cursor(channel)),
  ]);
  kit.lifecycle.add(
    "live-feeds",
    () =>
      feeds.start({
        nats,
        namespace,
        // From the start time rather than "new": what a stream stores between now and the
        // moment its subscription is established is delivered too, so a stream created after
        // this instance started (moderation deployed later) loses nothing to the retries.
        deliver: { sinceTime: new Date() },
        logger,
      }),
    () => feeds[Symbol.asyncDispose](),
  );
  kit.checks.push(
    {
      name: "content-events",
      // The content service creates its stream; until it exists this instance cannot deliver.
      check: async () => feeds.status(contentStream.name),
    },
    {
      // Streams of services realtime can serve without for a while: reported, not gating.
      name: "moderation-events",
      critical: false,
      check: async () =>
        feeds.status(
          moderationStream.name,
          "until then, moderation outcomes and suspensions do not reach open sockets",
        ),
    },
    {
      name: "identity-events",
      critical: false,
      check: async () =>
        feeds.status(
          identityStream.name,
          "until then, revoked sessions and blocks do not reach open sockets",
        ),
    },
    {
      name: "circles-events",
      critical: false,
      check: async () =>
        feeds.status(
          circlesStream.name,
          "until then, leaving or losing a circle does not end live subscriptions to it before the membership cache expires",
        ),
    },
  );
  /** A user channel carries moderation events; a circle channel content events. */
  const cursor = (channel: string): string =>
    String(feeds.lastSequence(isUserChannel(channel) ? moderationStream.name : contentStream.name));

  /** Checks the tokens of upgrades and of auth frames (first ones and re-authentications). */
  const tokens =
    verifier ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: limits.EVENTS_NAMESPACE,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  const perConnection = connectionLimits(config);

  const endpoint = new WebSocketEndpoint({
    transport: new WsTransport({
      maxFrameBytes: limits.REALTIME_MAX_FRAME_BYTES,
      pingIntervalMs: limits.REALTIME_PING_INTERVAL_MS,
      logger,
    }),
    verifier: tokens,
    logger,
    connect: (socket, codec, identity) =>
      new Connection(socket, codec, identity, {
        hub,
        users,
        metrics,
        logger,
        maxBufferedBytes: limits.REALTIME_MAX_BUFFERED_BYTES,
        maxSubscriptions: limits.REALTIME_MAX_SUBSCRIPTIONS,
        verifier: tokens,
        limits: perConnection,
        cursor,
        access,
        history,
        maxReplayEvents: limits.REALTIME_REPLAY_MAX_EVENTS,
      }),
  });
  return kit.host({
    fallback: endpoint.fallback,
    onUpgrade: endpoint.upgrade,
    onDrain: (deadline) => endpoint.shutdown(deadline),
  });
}
