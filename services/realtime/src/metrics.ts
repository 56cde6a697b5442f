import { Counter, Gauge, type Registry } from "prom-client";

/** Why the server closed a socket on its own (the `reason` label of `forcedCloses`). */
export type ForcedCloseReason =
  /** It stayed over its buffer limit (4008). */
  | "slow_consumer"
  /** Its session was revoked: sign-out, sign-out everywhere, password change, … (4003). */
  | "session_revoked"
  /** Its user was suspended or banned (4003). */
  | "account_restricted";

/** Realtime's own metrics, in the service registry (`/metrics` on the health port). */
export interface RealtimeMetrics {
  connections: Gauge;
  /** Channels subscribed by request; each connection's own user channel is not counted. */
  subscriptions: Gauge;
  /** Server frames written to sockets, by kind (`event`, `subscribed`, `error`, …). */
  framesSent: Counter<"frame">;
  /** Sockets the server closed on its own, by reason (restarts are not counted). */
  forcedCloses: Counter<"reason">;
}

const forcedCloseReasons: readonly ForcedCloseReason[] = [
  "slow_consumer",
  "session_revoked",
  "account_restricted",
];

export function realtimeMetrics(registry: Registry): RealtimeMetrics {
  const registers = [registry];
  const metrics: RealtimeMetrics = {
    connections: new Gauge({
      name: "kindred_realtime_connections",
      help: "Open WebSocket connections.",
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
    forcedCloses: new Counter({
      name: "kindred_realtime_forced_closes_total",
      help: "Connections the server closed on its own, by reason: slow_consumer, session_revoked, account_restricted.",
      labelNames: ["reason"] as const,
      registers,
    }),
  };
  // Every reason is exported from the start (at 0), so a rate over it is defined before a close.
  for (const reason of forcedCloseReasons) metrics.forcedCloses.inc({ reason }, 0);
  return metrics;
}
