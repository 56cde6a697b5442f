import { Counter, type Registry } from "prom-client";

export type CacheOperation = "lookup" | "store" | "invalidate" | "encode" | "decode";

export interface CacheMetrics {
  requests: Counter<"cache" | "outcome">;
  invalidations: Counter<"cache">;
  failures: Counter<"cache" | "operation">;
}

/**
 * The caches' metrics, shared by every cache on one registry (a service has several caches,
 * told apart by the `cache` label; prom-client refuses a second metric of the same name).
 */
export function cacheMetrics(registry: Registry | undefined): CacheMetrics {
  const registers = registry === undefined ? [] : [registry];
  const existing = <T>(name: string) => registry?.getSingleMetric(name) as T | undefined;
  return {
    requests:
      existing<Counter<"cache" | "outcome">>("kindred_cache_requests_total") ??
      new Counter({
        name: "kindred_cache_requests_total",
        help: "Cache reads: hit, miss (loaded from the source) or error (Redis failed; loaded from the source).",
        labelNames: ["cache", "outcome"],
        registers,
      }),
    invalidations:
      existing<Counter<"cache">>("kindred_cache_invalidations_total") ??
      new Counter({
        name: "kindred_cache_invalidations_total",
        help: "Tags invalidated (their generation bumped in Redis).",
        labelNames: ["cache"],
        registers,
      }),
    failures:
      existing<Counter<"cache" | "operation">>("kindred_cache_failures_total") ??
      new Counter({
        name: "kindred_cache_failures_total",
        help: "Cache operations that failed and were passed over (Redis down or slow, a value the codec refused).",
        labelNames: ["cache", "operation"],
        registers,
      }),
  };
}
