import type { ServiceHost } from "@kindred/runtime";

/** One Prometheus sample: metric name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a service's `/metrics` (its health port), at one moment. */
export type Scrape = Sample[];

const line = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const label = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export async function scrape(host: ServiceHost): Promise<Scrape> {
  const res = await fetch(`${host.healthUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const samples: Sample[] = [];
  for (const text of (await res.text()).split("\n")) {
    const m = line.exec(text);
    if (m === null || m[1] === undefined || m[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? "").matchAll(label)) {
      if (key !== undefined && value !== undefined) labels[key] = value;
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of `name`'s samples whose labels include `match`. */
export function total(samples: Scrape, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
    }
  }
  return sum;
}

/** Mean server-side handling time (ms) of `procedure`'s successful calls between two scrapes. */
export function meanHandlerMs(before: Scrape, after: Scrape, procedure: string): number {
  const match = { procedure, code: "ok" };
  const seconds =
    total(after, "kindred_rpc_server_duration_seconds_sum", match) -
    total(before, "kindred_rpc_server_duration_seconds_sum", match);
  const calls =
    total(after, "kindred_rpc_server_duration_seconds_count", match) -
    total(before, "kindred_rpc_server_duration_seconds_count", match);
  return calls === 0 ? Number.NaN : (1_000 * seconds) / calls;
}

/** Cache reads between two scrapes, by outcome (`hit`, `miss`, `error`), over every cache. */
export function cacheReads(before: Scrape, after: Scrape): Record<string, number> {
  const outcomes = new Set(
    after.filter((s) => s.name === "kindred_cache_requests_total").map((s) => s.labels.outcome),
  );
  const reads: Record<string, number> = {};
  for (const outcome of outcomes) {
    if (outcome === undefined) continue;
    reads[outcome] =
      total(after, "kindred_cache_requests_total", { outcome }) -
      total(before, "kindred_cache_requests_total", { outcome });
  }
  return reads;
}

/** Cache tags invalidated between two scrapes (a write invalidates its circle's feed pages). */
export function cacheInvalidations(before: Scrape, after: Scrape): number {
  return (
    total(after, "kindred_cache_invalidations_total") -
    total(before, "kindred_cache_invalidations_total")
  );
}
