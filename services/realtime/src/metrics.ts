import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Why the server closed a socket on its own (the `reason` label of `forcedCloses`). */
export type ForcedCloseReason =
  /** It stayed over its outbound limits for the whole grace period (4008). */
  | "slow_consumer"
  /** Its session was revoked: sign-out, sign-out everywhere, password change, … (4003). */
  | "session_revoked"
  /** Its user was suspended or banned (4003). */
  | "account_restricted"
  /** No auth frame within the auth timeout of an upgrade without a token (4000). */
  | "auth_timeout"
  /** Its first message was not an auth frame, its token was refused, or a new token was another user's (4001). */
  | "unauthenticated"
  /** Its token could not be checked (the keys are unavailable): try again later (1013). */
  | "auth_unavailable"
  /** Its token expired without a new auth frame (4002). */
  | "token_expired"
  /** No message and no pong within the idle timeout (4010). */
  | "idle_timeout"
  /** Its user already had the maximum of connections on this instance (4009). */
  | "too_many_connections"
  /** It kept sending over its message rate (4029). */
  | "rate_limited";

/** The kind of channel a dropped frame belonged to (the `channel_kind` label). */
export type ChannelKind = "circle" | "user";

/** Realtime's own metrics, in the service registry (`/metrics` on the health port). */
export interface RealtimeMetrics {
  /** Open sockets, authenticated or still waiting for their auth frame. */
  connections: Gauge;
  /** Channels subscribed by request; each connection's own user channel is not counted. */
  subscriptions: Gauge;
  /** Server frames written to sockets, by kind (`event`, `subscribed`, `error`, `gap`, …). */
  framesSent: Counter<"frame">;
  /** Event frames dropped for clients over their outbound limits, by channel kind. */
  framesDropped: Counter<"channel_kind">;
  /** Sockets the server closed on its own, by reason (restarts are not counted). */
  forcedCloses: Counter<"reason">;
  /** From an event's commit (its `occurredAt`) to its frame being written to a socket. */
  deliveryLatency: Histogram;
}

const forcedCloseReasons: readonly ForcedCloseReason[] = [
  "slow_consumer",
  "session_revoked",
  "account_restricted",
  "auth_timeout",
  "unauthenticated",
  "auth_unavailable",
  "token_expired",
  "idle_timeout",
  "too_many_connections",
  "rate_limited",
];

const channelKinds: readonly ChannelKind[] = ["circle", "user"];

export function realtimeMetrics(registry: Registry): RealtimeMetrics {
  const registers = [registry];
  const metrics: RealtimeMetrics = {
    connections: new Gauge({
      name: "kindred_realtime_connections",
      help: "Open WebSocket connections, including those still waiting for their auth frame.",
      registers,
    }),
    subscriptions: new Gauge({
      name: "kindred_realtime_subscriptions",
      help: "Channel subscriptions held by open connections, besides each one's own user channel.",
      registers,
    }),
    framesSent: new Counter({
      name: "kindred_realtime_frames_sent_total",
      help: "Server frames written to WebSocket connections, by kind.",
      labelNames: ["frame"] as const,
      registers,
    }),
    framesDropped: new Counter({
      name: "kindred_realtime_frames_dropped_total",
      help: "Event frames dropped (and announced by a gap frame) for clients over their outbound limits, by channel kind: circle, user.",
      labelNames: ["channel_kind"] as const,
      registers,
    }),
    forcedCloses: new Counter({
      name: "kindred_realtime_forced_closes_total",
      help: `Connections the server closed on its own, by reason: ${forcedCloseReasons.join(", ")}.`,
      labelNames: ["reason"] as const,
      registers,
    }),
    deliveryLatency: new Histogram({
      name: "kindred_realtime_delivery_latency_seconds",
      help: "From an event's commit (its occurred_at) to its frame being written to a socket.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
  // Every label value is exported from the start (at 0), so a rate over it is defined at once.
  for (const reason of forcedCloseReasons) metrics.forcedCloses.inc({ reason }, 0);
  for (const kind of channelKinds) metrics.framesDropped.inc({ channel_kind: kind }, 0);
  return metrics;
}
