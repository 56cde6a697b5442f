import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface JobMetrics {
  runs: Counter<"job" | "outcome">;
  duration: Histogram<"job">;
  lastSuccess: Gauge<"job">;
  items: Counter<"job" | "kind">;
}

/**
 * The runner's metrics, shared by every runner on one registry (prom-client refuses a second
 * metric of the same name, and one service may build more than one runner).
 */
export function jobMetrics(registry: Registry | undefined): JobMetrics {
  const registers = registry === undefined ? [] : [registry];
  const existing = <T>(name: string) => registry?.getSingleMetric(name) as T | undefined;
  return {
    runs:
      existing<Counter<"job" | "outcome">>("kindred_job_runs_total") ??
      new Counter({
        name: "kindred_job_runs_total",
        help: "Job ticks by outcome: ok, failed, or skipped (another run held the job's lock).",
        labelNames: ["job", "outcome"],
        registers,
      }),
    duration:
      existing<Histogram<"job">>("kindred_job_duration_seconds") ??
      new Histogram({
        name: "kindred_job_duration_seconds",
        help: "Time a job run took (ok or failed), in seconds.",
        labelNames: ["job"],
        buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
        registers,
      }),
    lastSuccess:
      existing<Gauge<"job">>("kindred_job_last_success_timestamp_seconds") ??
      new Gauge({
        name: "kindred_job_last_success_timestamp_seconds",
        help: "Unix time at which this process last finished a run of the job successfully.",
        labelNames: ["job"],
        registers,
      }),
    items:
      existing<Counter<"job" | "kind">>("kindred_job_items_total") ??
      new Counter({
        name: "kindred_job_items_total",
        help: "Items job runs reported handling, by kind (e.g. purged, deleted, escalated).",
        labelNames: ["job", "kind"],
        registers,
      }),
  };
}
