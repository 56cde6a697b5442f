/** A whole number ≥ 1 from the environment, or `fallback`. */
function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${name} must be a whole number of at least 1, not "${raw}"`);
  }
  return n;
}

/** `NAME=value,NAME=value` (content's variables that turn its feed cache off), if given. */
function variables(name: string): Record<string, string> | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  return Object.fromEntries(
    raw.split(",").map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new Error(`${name} must be NAME=value[,NAME=value…], not "${raw}"`);
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    }),
  );
}

const concurrency = count("BENCH_API_CONCURRENCY", 16);

/**
 * What the API bench runs; every figure in its section of docs/benchmarks.md comes from these.
 * The defaults finish in about a minute and a half on 2 cores.
 */
export const config = {
  /** Runs of each series; series are alternated and the median run is reported. */
  repeats: count("BENCH_API_REPEATS", 3),
  /** A run stops issuing calls after this long, even short of its count (reported as cut). */
  maxRunSeconds: count("BENCH_API_MAX_RUN_SECONDS", 30),
  writes: {
    /** Posts per run of each series. */
    count: count("BENCH_API_WRITES", 1_500),
    /** Calls (or transactions) in flight; also the number of registered writers. */
    concurrency,
    /** Untimed posts per series before the first run (JIT, pools, keep-alive sockets). */
    warmup: count("BENCH_API_WARMUP", 150),
  },
  feed: {
    /** ListFeed calls per run of each variant. */
    reads: count("BENCH_API_READS", 1_500),
    concurrency,
    warmup: count("BENCH_API_WARMUP", 150),
    /** Users reading; each is a member of every feed circle. */
    readers: count("BENCH_API_FEED_READERS", 8),
    circles: count("BENCH_API_FEED_CIRCLES", 4),
    /** Posts in the feed circles, spread evenly over them. */
    posts: count("BENCH_API_FEED_POSTS", 300),
  },
  /** Overrides how the no-cache content is configured, e.g. `FEED_CACHE_TTL_SECONDS=0`. */
  noCacheEnv: variables("BENCH_API_NO_CACHE_ENV"),
  /** CreatePost through the gateway ≥ this × the raw transactions (issue 5). */
  writeTarget: 0.4,
};

export type BenchConfig = typeof config;
