import { Counter, Gauge, type Registry } from "prom-client";

/** Realtime's own metrics, in the service registry (`/metrics` on the health port). */
export interface RealtimeMetrics {
  connections: Gauge;
  subscriptions: Gauge;
  /** Server frames written to sockets, by kind (`event`, `subscribed`, `error`, …). */
  framesSent: Counter<"frame">;
  /** Sockets closed because they stayed over their buffer limit. */
  slowConsumerCloses: Counter;
}

export function realtimeMetrics(registry: Registry): RealtimeMetrics {
  const registers = [registry];
  return {
    connections: new Gauge({
      name: "kindred_realtime_connections",
      help: "Open WebSocket connections.",
      registers,
    }),
    subscriptions: new Gauge({
      name: "kindred_realtime_subscriptions",
      help: "Channel subscriptions held by open connections.",
      registers,
    }),
    framesSent: new Counter({
      name: "kindred_realtime_frames_sent_total",
      help: "Server frames written to WebSocket connections, by kind.",
      labelNames: ["frame"] as const,
      registers,
    }),
    slowConsumerCloses: new Counter({
      name: "kindred_realtime_slow_consumer_closes_total",
      help: "Connections closed because they read too slowly (over the buffered-bytes limit).",
      registers,
    }),
  };
}
