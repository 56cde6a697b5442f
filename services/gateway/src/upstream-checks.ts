import type { HealthCheck } from "@kindred/runtime";

/** The gateway is ready only while every service it routes to says it is ready. */
export function upstreamChecks(upstreams: ReadonlyMap<string, string>): HealthCheck[] {
  return [...upstreams].map(([name, url]) => ({
    name,
    check: async (signal) => {
      const res = await fetch(new URL("/readyz", url), { signal });
      await res.body?.cancel();
      if (res.status !== 200) throw new Error(`not ready (HTTP ${res.status})`);
    },
  }));
}
