import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * One Prometheus registry per service, with Node's default process metrics and the RED metrics
 * every RPC server records. Services add their own metrics to `registry`.
 */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Requests handled, by procedure and Connect code (`ok` for success). */
  readonly rpcRequests: Counter<"procedure" | "code">;
  readonly rpcDuration: Histogram<"procedure" | "code">;
  readonly rpcInFlight: Gauge<"procedure">;
  /** 1 when a dependency answered its last readiness check, 0 when it did not. */
  readonly dependencyUp: Gauge<"dependency">;
}

export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    rpcRequests: new Counter({
      name: "kindred_rpc_server_requests_total",
      help: "RPC requests handled, by procedure and result code.",
      labelNames: ["procedure", "code"],
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: "kindred_rpc_server_duration_seconds",
      help: "RPC handling time in seconds, by procedure and result code.",
      labelNames: ["procedure", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rpcInFlight: new Gauge({
      name: "kindred_rpc_server_in_flight_requests",
      help: "RPC requests being handled now.",
      labelNames: ["procedure"],
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: "kindred_dependency_up",
      help: "Whether a dependency answered its last readiness check (1) or not (0).",
      labelNames: ["dependency"],
      registers: [registry],
    }),
  };
}
