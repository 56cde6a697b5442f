import type { RoundVariant } from "./round-profile.ts";

/** What the bench runs; every figure in docs/benchmarks.md comes from these. */
export const config = {
  events: 20_000,
  window: 1_000,
  repeats: 3,
  batchSizes: [500, 1_000],
  fill: { writers: 4, eventsPerTransaction: 100, aggregates: 5_000 },
  concurrent: {
    events: 10_000,
    batchSize: 500,
    write: { writers: 4, eventsPerTransaction: 10, aggregates: 1_000 },
  },
  latency: {
    ratePerSecond: 1_000,
    seconds: 10,
    warmupSeconds: 1,
    writers: 8,
    batchSize: 500,
    pollIntervalMs: 1_000,
  },
  profile: [
    { name: "relay's round as is", batchSize: 500, asyncCommit: false, overlapUpdate: false },
    { name: "relay's round as is", batchSize: 1_000, asyncCommit: false, overlapUpdate: false },
    {
      name: "UPDATE with synchronous_commit=off",
      batchSize: 500,
      asyncCommit: true,
      overlapUpdate: false,
    },
    {
      name: "UPDATE overlapped with the next round",
      batchSize: 500,
      asyncCommit: false,
      overlapUpdate: true,
    },
  ] satisfies RoundVariant[],
};

export type BenchConfig = typeof config;
