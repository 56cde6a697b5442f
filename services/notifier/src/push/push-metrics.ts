import { Counter, Histogram, type Registry } from "prom-client";

/**
 * The push metrics every provider shares, one series per `provider` ("apns", "fcm"). Whichever
 * provider is built first registers them; the others find them in the registry and reuse them
 * (a registry refuses a second metric of the same name).
 */
export interface PushMetrics {
  /** Every `send` by its result: sent, invalid_token, retry, failed. */
  requests: Counter<"provider" | "outcome">;
  /** One exchange with the provider, token refresh and its retried request included. */
  duration: Histogram<"provider">;
}

export const pushRequestsTotal = "kindred_notifier_push_requests_total";
export const pushDurationSeconds = "kindred_notifier_push_duration_seconds";

const existing = <T>(registry: Registry | undefined, name: string) =>
  registry?.getSingleMetric(name) as T | undefined;

export function pushMetrics(registry: Registry | undefined): PushMetrics {
  const registers = registry === undefined ? [] : [registry];
  return {
    requests:
      existing<Counter<"provider" | "outcome">>(registry, pushRequestsTotal) ??
      new Counter({
        name: pushRequestsTotal,
        help: "Push sends by provider and outcome: sent, invalid_token, retry (including circuit open and rate cap) or failed.",
        labelNames: ["provider", "outcome"],
        registers,
      }),
    duration:
      existing<Histogram<"provider">>(registry, pushDurationSeconds) ??
      new Histogram({
        name: pushDurationSeconds,
        help: "Time a push send took, OAuth token included, for sends that reached the network, in seconds.",
        labelNames: ["provider"],
        buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
  };
}
