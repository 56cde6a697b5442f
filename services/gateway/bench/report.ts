import { markdownTable, textTable } from "@kindred/testing";
import type { BenchConfig } from "./config.ts";
import type { NoCache } from "./feed.ts";
import type { Run } from "./runs.ts";
import { median } from "./stats.ts";
import type { SeriesName } from "./write-runs.ts";

export interface ApiResults {
  config: BenchConfig;
  date: string;
  machine: {
    cores: number;
    cpus: string;
    memory: string;
    /** 1-minute load average before and after the bench (others may share the machine). */
    load: string;
    node: string;
    postgres: string;
    nats: string;
    redis: string;
  };
  /** Content's `DATABASE_POOL_MAX`; the raw series' pool has the same size. */
  contentPool: number;
  /** Content's `FEED_CACHE_TTL_SECONDS`, when its config has one. */
  feedCacheTtlSeconds: number | undefined;
  writes: Record<SeriesName, Run[]>;
  feed: { readers: number; circles: number; posts: number; pageSize: number; pageBytes: number };
  noCache: NoCache;
  reads: { cached: Run[]; uncached: Run[] };
  seconds: number;
}

/** Medians over a series' runs; CPU per call in ms. */
interface Summary {
  runs: Run[];
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
  /**
   * Client thread, services' (main) thread, the process's other threads (GC, libuv pool),
   * PostgreSQL, NATS, Redis, the rest of the machine (other work), the whole machine.
   */
  cpu: {
    client: number;
    services: number;
    otherThreads: number;
    postgres: number;
    nats: number;
    redis: number;
    rest: number;
    machine: number;
  };
  /** Share of one core the main thread (every service's event loop) was busy, 0 to 1. */
  mainThreadBusy: number;
  /** Share of the machine (all cores) that was busy, 0 to 1. */
  machineBusy: number;
  handlerMs: number;
  /** Cache reads by outcome, summed over the runs. */
  cache: Record<string, number>;
  /** Cache invalidations per call (median of runs). */
  invalidations: number;
  cut: boolean;
}

function summarize(runs: Run[]): Summary {
  const of = (f: (run: Run) => number) => median(runs.map(f));
  const perOp = (f: (run: Run) => number | undefined) => of((run) => (f(run) ?? 0) / run.ops);
  const cache: Record<string, number> = {};
  for (const run of runs) {
    for (const [outcome, n] of Object.entries(run.cache ?? {})) {
      cache[outcome] = (cache[outcome] ?? 0) + n;
    }
  }
  return {
    runs,
    perSecond: of((r) => r.perSecond),
    p50: of((r) => r.latency.p50),
    p95: of((r) => r.latency.p95),
    p99: of((r) => r.latency.p99),
    mean: of((r) => r.latency.mean),
    max: Math.max(...runs.map((r) => r.latency.max)),
    cpu: {
      client: perOp((r) => r.clientCpuMs),
      services: perOp((r) => r.cpu.mainThreadMs),
      otherThreads: perOp((r) => r.cpu.processMs - r.cpu.mainThreadMs - r.clientCpuMs),
      postgres: perOp((r) => r.cpu.servers.postgres),
      nats: perOp((r) => r.cpu.servers["nats-server"]),
      redis: perOp((r) => r.cpu.servers["redis-server"]),
      rest: perOp(
        (r) =>
          r.cpu.machineBusyMs -
          r.cpu.processMs -
          Object.values(r.cpu.servers).reduce((a, b) => a + b, 0),
      ),
      machine: perOp((r) => r.cpu.machineBusyMs),
    },
    mainThreadBusy: of((r) => r.cpu.mainThreadMs / (1_000 * r.seconds)),
    machineBusy: of((r) => r.cpu.machineBusy),
    handlerMs: of((r) => r.handlerMs ?? Number.NaN),
    cache,
    invalidations: perOp((r) => r.invalidations),
    cut: runs.some((r) => r.cut),
  };
}

function summarizeAll(r: ApiResults) {
  const raw = summarize(r.writes.raw);
  const content = summarize(r.writes.content);
  const gateway = summarize(r.writes.gateway);
  const cached = summarize(r.reads.cached);
  const uncached = summarize(r.reads.uncached);
  const ratio = gateway.perSecond / raw.perSecond;
  return {
    raw,
    content,
    gateway,
    cached,
    uncached,
    ratio,
    met: ratio >= r.config.writeTarget,
    cacheRatio: cached.perSecond / uncached.perSecond,
  };
}

type Summaries = ReturnType<typeof summarizeAll>;

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const cpuMs = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const pct = (share: number) => `${Math.round(100 * share)} %`;
const runsOf = (s: Summary) => s.runs.map((run) => int(run.perSecond)).join(" / ");
const x = (n: number) => `${n.toFixed(2)} ×`;

const writeLabels: Record<SeriesName, string> = {
  raw: "Raw transaction (post + outbox), no RPC",
  content: "CreatePost straight to content",
  gateway: "CreatePost through the gateway",
};

function writeRows(s: Summaries): string[][] {
  return (["raw", "content", "gateway"] as const).map((name) => {
    const v = s[name];
    return [
      `${writeLabels[name]}${v.cut ? " (cut by the time limit)" : ""}`,
      int(v.perSecond),
      runsOf(v),
      x(v.perSecond / s.raw.perSecond),
      ms(v.p50),
      ms(v.p95),
      ms(v.p99),
      ms(v.max),
    ];
  });
}

function cacheOf(v: Summary): string {
  const entries = Object.entries(v.cache).filter(([, n]) => n > 0);
  return entries.length === 0 ? "none" : entries.map(([k, n]) => `${k} ${int(n)}`).join(", ");
}

function readRows(s: Summaries): string[][] {
  return (
    [
      ["ListFeed, content with its feed cache (default config)", s.cached],
      ["ListFeed, content without it", s.uncached],
    ] as const
  ).map(([label, v]) => [
    `${label}${v.cut ? " (cut by the time limit)" : ""}`,
    int(v.perSecond),
    runsOf(v),
    x(v.perSecond / s.uncached.perSecond),
    ms(v.p50),
    ms(v.p95),
    ms(v.p99),
    ms(v.handlerMs),
    cacheOf(v),
  ]);
}

function cpuRows(s: Summaries): string[][] {
  return (
    [
      [writeLabels.raw, s.raw],
      [writeLabels.content, s.content],
      [writeLabels.gateway, s.gateway],
      ["ListFeed with the cache", s.cached],
      ["ListFeed without it", s.uncached],
    ] as const
  ).map(([label, v]) => [
    label,
    cpuMs(v.cpu.client),
    cpuMs(v.cpu.services),
    cpuMs(v.cpu.otherThreads),
    cpuMs(v.cpu.postgres),
    cpuMs(v.cpu.nats),
    cpuMs(v.cpu.redis),
    cpuMs(v.cpu.rest),
    cpuMs(v.cpu.machine),
    pct(v.mainThreadBusy),
    pct(v.machineBusy),
  ]);
}

function targetRows(r: ApiResults, s: Summaries): string[][] {
  return [
    [
      `CreatePost through the gateway ≥ ${r.config.writeTarget} × raw transactions`,
      `${x(s.ratio)} (${int(s.gateway.perSecond)} of ${int(s.raw.perSecond)} posts/s)`,
      s.met ? "yes" : "no",
    ],
    [
      "Feed reads with the cache vs without (no target)",
      `${x(s.cacheRatio)} (${int(s.cached.perSecond)} vs ${int(s.uncached.perSecond)} reads/s)`,
      "–",
    ],
  ];
}

const heads = {
  writes: [
    "CreatePost",
    "Median posts/s",
    "Runs",
    "vs raw",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
  ],
  reads: [
    "Feed read",
    "Median reads/s",
    "Runs",
    "vs no cache",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "content handler ms",
    "cache reads",
  ],
  cpu: [
    "CPU ms per call",
    "Client thread",
    "Services' thread",
    "Other threads",
    "PostgreSQL",
    "NATS",
    "Redis",
    "Rest of machine",
    "Whole machine",
    "Services' thread busy",
    "Machine busy",
  ],
  targets: ["Target", "Reached", "Met"],
};

export function renderText(r: ApiResults): string {
  const s = summarizeAll(r);
  return [
    "",
    `API bench, ${r.date} (${r.seconds.toFixed(0)} s; load ${r.machine.load})`,
    `${r.machine.cpus}; node ${r.machine.node}; PostgreSQL ${r.machine.postgres}; NATS ${r.machine.nats}; Redis ${r.machine.redis}`,
    `${int(r.config.writes.count)} posts and ${int(r.config.feed.reads)} reads per run, ${r.config.writes.concurrency} in flight; median of ${r.config.repeats} runs`,
    "",
    textTable(heads.writes, writeRows(s)),
    "",
    textTable(heads.reads, readRows(s)),
    "",
    textTable(heads.cpu, cpuRows(s)),
    "",
    textTable(heads.targets, targetRows(r, s)),
    "",
    `No cache: ${r.noCache.how}`,
    "",
  ].join("\n");
}

/** Where the time of a CreatePost goes, from the CPU and handler figures. */
function writeBounds(r: ApiResults, s: Summaries): string {
  const { raw, content, gateway } = s;
  const cores = r.machine.cores;
  const saturated = (v: Summary) => v.machineBusy >= 0.85;
  const ours = (v: Summary) => v.cpu.machine - v.cpu.rest;
  const verdict = `CreatePost through the gateway reaches ${x(s.ratio)} the raw transactions (target ${r.config.writeTarget} ×${s.met ? ", met" : ", not met"}).`;
  const rawBound = saturated(raw)
    ? `the machine's CPU is the bound (${pct(raw.machineBusy)} busy)`
    : `CPU is not the bound (the machine was ${pct(raw.machineBusy)} busy): each transaction waits for its commit's WAL flush (\`synchronous_commit=on\`) and for one of the ${r.contentPool} pooled connections`;
  const invalidated =
    gateway.invalidations > 0
      ? ` After its commit each CreatePost also invalidates its circle's feed pages in Redis (${gateway.invalidations.toFixed(1)} per post; Redis ${cpuMs(gateway.cpu.redis)} ms of CPU per post), which the raw series does not.`
      : "";
  const bound =
    gateway.mainThreadBusy >= 0.85
      ? `The services' thread, the one event loop that runs identity, circles, content and the gateway here, was ${pct(gateway.mainThreadBusy)} busy: it is the bound through the gateway (in production each service has its own process and cores).`
      : saturated(gateway)
        ? `Through the gateway the machine was ${pct(gateway.machineBusy)} busy: CPU is the bound, shared by the clients, the services, PostgreSQL and NATS on ${cores} cores (CPU per post in the bench's own processes, raw ÷ gateway: ${x(ours(raw) / ours(gateway))}; measured throughput, gateway ÷ raw: ${x(s.ratio)}).`
        : `Through the gateway neither the machine (${pct(gateway.machineBusy)} busy) nor the services' thread (${pct(gateway.mainThreadBusy)}) was saturated: calls wait on commits, the pool and two HTTP hops.`;
  const hop =
    gateway.perSecond < content.perSecond
      ? `The gateway takes throughput from ${int(content.perSecond)} to ${int(gateway.perSecond)} posts/s (${pct(1 - gateway.perSecond / content.perSecond)} less).`
      : `Throughput through the gateway (${int(gateway.perSecond)} posts/s) was no lower than straight to content (${int(content.perSecond)}): the hop's cost is within the runs' noise here.`;
  return `**Writes.** ${verdict} The raw series does exactly what CreatePost stores (\`INSERT … RETURNING\` into \`post\`, the aggregate's advisory lock and the outbox \`INSERT\`, in one transaction) and costs ${cpuMs(ours(raw))} ms of CPU per post in the bench's processes (PostgreSQL ${cpuMs(raw.cpu.postgres)}, this process ${cpuMs(raw.cpu.services + raw.cpu.otherThreads)}, NATS ${cpuMs(raw.cpu.nats)} for the relay publishing the events meanwhile); ${rawBound}.

Through the gateway a post costs ${cpuMs(ours(gateway))} ms of CPU in the bench's processes, ${x(ours(gateway) / ours(raw))} the raw one: the client thread ${cpuMs(gateway.cpu.client)} ms (the Connect client encoding, sending and decoding; on the phones in production, on the same ${cores} cores here), the services' thread ${cpuMs(gateway.cpu.services)} ms, the process's other threads (garbage collection) ${cpuMs(gateway.cpu.otherThreads)} ms, PostgreSQL ${cpuMs(gateway.cpu.postgres)} ms (${cpuMs(gateway.cpu.postgres - raw.cpu.postgres)} more than raw: the membership check inside the insert, \`may_write_in\`, and backends woken for each statement by a slower caller) and NATS ${cpuMs(gateway.cpu.nats)} ms.${invalidated} Straight to content, the services' thread spends ${cpuMs(content.cpu.services)} ms per post: the gateway's hop (its token check, a second HTTP/1.1 exchange, piping both bodies) costs ${cpuMs(gateway.cpu.services - content.cpu.services)} ms of it, and content's service layer (HTTP server, Connect, token check, validation, protobuf, per-call logging context and metrics; the membership check is part of the insert) ${cpuMs(content.cpu.services - raw.cpu.services)} ms over the raw transaction's own code. ${hop} Content's handler takes ${ms(gateway.handlerMs)} ms on average, the raw transaction ${ms(raw.mean)} ms as its caller sees it; the rest of the ${ms(gateway.mean)} ms a client waits for CreatePost is the two HTTP hops and waiting in the services' event loop. ${bound} Work that is not the bench's took ${cpuMs(gateway.cpu.rest)} ms of the machine per post through the gateway (${cpuMs(raw.cpu.rest)} in the raw series).`;
}

function readBounds(r: ApiResults, s: Summaries): string {
  const { cached, uncached } = s;
  const total = (v: Summary) => Object.values(v.cache).reduce((a, b) => a + b, 0);
  const hits = cached.cache.hit ?? 0;
  let verdict: string;
  if (total(cached) === 0) {
    verdict = `Content made no cache reads in the cached variant (its \`kindred_cache_requests_total\` stayed at 0): this build of content has no feed cache, so both variants read PostgreSQL on every call and their ratio, ${x(s.cacheRatio)}, is run-to-run noise. Run the bench again once the feed cache is in content.`;
  } else {
    const uncachedNote =
      (uncached.cache.hit ?? 0) > 0
        ? ` The content configured without the cache still served ${int(uncached.cache.hit ?? 0)} hits: the switch did not turn the cache off, so the ratio understates the cache.`
        : (uncached.cache.error ?? 0) > 0
          ? ` Without the cache every read first tried Redis and failed at once (${int(uncached.cache.error ?? 0)} errors), then read PostgreSQL: the fail-soft path, which costs a failed call more than a content with no cache would.`
          : "";
    verdict = `With the cache ${pct(hits / total(cached))} of the reads were hits, and the feed reads reach ${x(s.cacheRatio)} the reads without it (${int(cached.perSecond)} vs ${int(uncached.perSecond)}/s). Content's ListFeed handler takes ${ms(cached.handlerMs)} ms with the cache and ${ms(uncached.handlerMs)} ms without: a hit still reads the viewer's circles from PostgreSQL (the page's key depends on them), then one Redis round trip replaces the feed query. Per read PostgreSQL spends ${cpuMs(cached.cpu.postgres)} vs ${cpuMs(uncached.cpu.postgres)} ms of CPU, Redis ${cpuMs(cached.cpu.redis)} vs ${cpuMs(uncached.cpu.redis)} ms.${uncachedNote}`;
  }
  return `**Feed reads.** ${verdict} Either way a read crosses the client thread (${cpuMs(cached.cpu.client)} ms per read), the gateway and content's HTTP and Connect layers (the services' thread: ${cpuMs(cached.cpu.services)} ms with the cache, ${cpuMs(uncached.cpu.services)} ms without) and returns ${int(r.feed.pageBytes)} B of protobuf; the services' thread was ${pct(cached.mainThreadBusy)} busy with the cache and ${pct(uncached.mainThreadBusy)} without, the machine ${pct(cached.machineBusy)} and ${pct(uncached.machineBusy)}.`;
}

export function renderMarkdown(r: ApiResults): string {
  const s = summarizeAll(r);
  const c = r.config;
  const w = c.writes;
  const f = c.feed;
  return `## API: CreatePost and feed reads through the gateway

Written by \`services/gateway/bench/api.bench.ts\` (\`pnpm bench\`), which rewrites this section on
every run.

- **Date**: ${r.date}
- **Machine**: ${r.machine.cpus}, ${r.machine.memory}; 1-minute load average ${r.machine.load} (before → after; the machine is shared with other work)
- **Node**: ${r.machine.node}
- **PostgreSQL**: ${r.machine.postgres}
- **NATS**: ${r.machine.nats}
- **Redis**: ${r.machine.redis}
- **World**: identity, circles, content and the gateway built from their config (\`buildApp\`, \`loadConfig\`, \`testServiceEnv\`) in one Node process, as \`services/gateway/test/circles-flows.test.ts\` starts them: one event loop for all four, each service with its own new database, one event namespace of their own, every port on 127.0.0.1. Content's defaults: a pool of ${r.contentPool} connections${r.feedCacheTtlSeconds === undefined ? "" : `, its feed cache in Redis (entries live ${r.feedCacheTtlSeconds} s)`}, its outbox relay publishing every post's event to JetStream during the runs. The clients run on a worker thread of the same process: real Connect clients (\`@connectrpc/connect-node\`, HTTP/1.1 keep-alive, binary protobuf) with access tokens from Register. Tracing is off, logs are silent.
- **Whole bench**: ${r.seconds.toFixed(0)} s. Bench, services, PostgreSQL, NATS and Redis share the ${r.machine.cores} cores.

### Method

Every series runs ${c.repeats} times, alternated (A B C, then C B A, …) so that drift on the shared machine hits them alike; tables show the median over the runs of each figure (for latency, of each run's percentile; max is the largest). Each run is a closed loop: ${w.concurrency} callers each start the next call as soon as theirs returned, for a fixed count, stopped after ${c.maxRunSeconds} s at most. Latency is from the call to its answer, as the caller sees it; throughput is calls ÷ the run's wall time. Before the first run each series makes ${int(w.warmup)} untimed calls. Sizes come from \`BENCH_API_WRITES\`, \`BENCH_API_READS\`, \`BENCH_API_CONCURRENCY\`, \`BENCH_API_REPEATS\`, \`BENCH_API_WARMUP\`, \`BENCH_API_MAX_RUN_SECONDS\` and \`BENCH_API_FEED_*\` (defaults in \`services/gateway/bench/config.ts\`).

1. **Raw transactions** (the baseline). ${int(w.count)} posts per run by ${w.concurrency} writers, each one transaction on content's own database, through a \`Database\` (\`@kindred/database\`) with content's pool size (${r.contentPool}): the \`post\` row (\`INSERT … RETURNING\`) and \`content.post.created.v1\` through content's own \`Outbox.enqueue\`, with the values CreatePost stores, by the writers' users in their circle. No RPC, no membership check.
2. **CreatePost through the gateway.** The same count and concurrency; ${w.concurrency} users registered through the gateway, members of one open circle created and joined through circles (content learns the memberships from circles' events before the runs). Each caller uses its own user's token.
3. **CreatePost straight to content**, the same calls without the gateway, to tell the gateway's share from content's.
4. **Feed reads.** ${f.readers} readers, members of ${r.feed.circles} open circles holding ${int(r.feed.posts)} posts (written through the gateway before the runs); ${int(f.reads)} ListFeed calls per run (first page, default size: ${r.feed.pageSize} posts, ${int(r.feed.pageBytes)} B), ${f.concurrency} in flight, through a gateway in front of content as configured by default (with its feed cache), and through a second gateway in front of a second content on the same database and events without it: ${r.noCache.how}. Nothing is written while reads run.

Before each write run the relay has published every event written so far and a \`CHECKPOINT\` is taken. CPU per call: machine-wide non-idle time (\`/proc/stat\`, so other work on the machine counts too), the main thread (every service; in the raw series also the writers) and the client thread (\`process.threadCpuUsage\`), and the PostgreSQL, NATS and Redis processes (\`/proc/<pid>/stat\`, every PostgreSQL backend, the bench's or not), each ÷ the run's calls. Content's handler time is the mean of its \`kindred_rpc_server_duration_seconds\` over the run; cache reads are its \`kindred_cache_requests_total\`.

### Results

${markdownTable(heads.writes, writeRows(s))}

${markdownTable(heads.reads, readRows(s))}

Where the CPU goes (median of runs, ms per call). _Other threads_: this process's garbage collector and libuv pool; _PostgreSQL_ counts every backend, the bench's or not; _rest of machine_: everything else that ran (other work on the shared machine); _busy_: share of one core for the services' thread, of all cores for the machine.

${markdownTable(heads.cpu, cpuRows(s))}

### Targets

${markdownTable(heads.targets, targetRows(r, s))}

### What bounds them

${writeBounds(r, s)}

${readBounds(r, s)}
`;
}
