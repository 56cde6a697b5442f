import type { ServiceHost } from "@kindred/runtime";
import { type CpuUse, cpuSince, cpuSnapshot } from "./cpu.ts";
import type { Timed } from "./load.ts";
import { cacheInvalidations, cacheReads, meanHandlerMs, type Scrape, scrape } from "./metrics.ts";
import { type Latency, latencyOf } from "./stats.ts";

/** One timed run of one series. */
export interface Run {
  ops: number;
  seconds: number;
  perSecond: number;
  latency: Latency;
  /** Stopped by the time limit before its count. */
  cut: boolean;
  cpu: CpuUse;
  /** CPU time of the client thread (0 where the main thread calls the database itself). */
  clientCpuMs: number;
  /** Content's mean time handling the RPC (its `kindred_rpc_server_duration_seconds`). */
  handlerMs: number | undefined;
  /** Content's cache reads during the run, by outcome. */
  cache: Record<string, number> | undefined;
  /** Content's cache invalidations during the run. */
  invalidations: number | undefined;
}

export interface Probe {
  /** The content whose metrics show what the run cost it. */
  content: ServiceHost;
  procedure: string;
}

/**
 * Times `run` and the CPU the machine, this process's main thread and the local servers spent
 * meanwhile; with `probe`, also content's handling time and cache reads from its `/metrics`
 * (scraped outside the CPU window).
 */
export async function measure(
  run: () => Promise<{ timed: Timed; threadCpuMs?: number }>,
  probe?: Probe,
): Promise<Run> {
  const before: Scrape | undefined = probe === undefined ? undefined : await scrape(probe.content);
  const snapshot = cpuSnapshot();
  const { timed, threadCpuMs = 0 } = await run();
  const cpu = cpuSince(snapshot);
  const after: Scrape | undefined = probe === undefined ? undefined : await scrape(probe.content);
  return {
    ops: timed.ops,
    seconds: timed.seconds,
    perSecond: timed.ops / timed.seconds,
    latency: latencyOf(timed.latencies),
    cut: timed.cut,
    cpu,
    clientCpuMs: threadCpuMs,
    handlerMs:
      probe === undefined || before === undefined || after === undefined
        ? undefined
        : meanHandlerMs(before, after, probe.procedure),
    cache: before === undefined || after === undefined ? undefined : cacheReads(before, after),
    invalidations:
      before === undefined || after === undefined ? undefined : cacheInvalidations(before, after),
  };
}
