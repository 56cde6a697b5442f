import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** How a `classify` call ended. */
export type ClassifierOutcome =
  | "ok"
  | "timeout"
  | "network_error"
  | "rate_limited"
  | "server_error"
  | "client_error"
  | "invalid_response"
  | "circuit_open"
  | "error";

/** How a `page` call ended: sent, rejected (invalid event, not retried), failed (retried later). */
export type PageOutcome = "sent" | "rejected" | "failed";

export interface ClassifierMetrics {
  requests: Counter<"outcome">;
  duration: Histogram;
  circuitState: Gauge;
}

export interface PagerMetrics {
  pages: Counter<"outcome">;
}

// A registry refuses a second metric of the same name: a second client on the same registry
// (tests, or two instances in one process) shares the first one's metrics.
const existing = <T>(registry: Registry | undefined, name: string) =>
  registry?.getSingleMetric(name) as T | undefined;
const registersOf = (registry: Registry | undefined) => (registry === undefined ? [] : [registry]);

export function classifierMetrics(registry: Registry | undefined): ClassifierMetrics {
  const registers = registersOf(registry);
  return {
    requests:
      existing<Counter<"outcome">>(registry, "kindred_moderation_classifier_requests_total") ??
      new Counter({
        name: "kindred_moderation_classifier_requests_total",
        help: "Texts sent to the moderation classifier, by how the call ended (after retries): ok, timeout, network_error, rate_limited, server_error, client_error, invalid_response, circuit_open, error.",
        labelNames: ["outcome"],
        registers,
      }),
    duration:
      existing<Histogram>(registry, "kindred_moderation_classifier_duration_seconds") ??
      new Histogram({
        name: "kindred_moderation_classifier_duration_seconds",
        help: "Time a classification took, retries and backoff included, in seconds.",
        buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8],
        registers,
      }),
    circuitState:
      existing<Gauge>(registry, "kindred_moderation_classifier_circuit_state") ??
      new Gauge({
        name: "kindred_moderation_classifier_circuit_state",
        help: "The classifier's circuit breaker: 0 closed, 1 half-open (probing), 2 open (failing fast; stays open until a call after the half-open delay probes).",
        registers,
      }),
  };
}

export function pagerMetrics(registry: Registry | undefined): PagerMetrics {
  return {
    pages:
      existing<Counter<"outcome">>(registry, "kindred_moderation_pages_total") ??
      new Counter({
        name: "kindred_moderation_pages_total",
        help: "Pages to on-call moderators, by outcome: sent, rejected (invalid event, dead-lettered), failed (retried later).",
        labelNames: ["outcome"],
        registers: registersOf(registry),
      }),
  };
}
