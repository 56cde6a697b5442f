/**
 * `pnpm bench`: CreatePost through the gateway against the raw transactions it stores, and feed
 * reads with and without content's cache, on this machine; printed and written to this bench's
 * section of docs/benchmarks.md. Needs the local PostgreSQL, NATS (JetStream) and Redis of the
 * test suite, and the workspace packages built (`turbo run bench` builds them first).
 */
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { writeBenchSection } from "@kindred/testing";
import { ClientThread } from "./client-thread.ts";
import { config } from "./config.ts";
import { measureReads } from "./read-runs.ts";
import { type ApiResults, renderMarkdown, renderText } from "./report.ts";
import { describeServers } from "./servers.ts";
import { createWorld } from "./world.ts";
import { measureWrites } from "./write-runs.ts";

function progress(line: string): void {
  process.stderr.write(`[api bench] ${line}\n`);
}

/** Content's feed cache TTL, read by name: the bench also runs against a content without one. */
function feedCacheTtl(extra: object): number | undefined {
  const ttl = (extra as Record<string, unknown>).FEED_CACHE_TTL_SECONDS;
  return typeof ttl === "number" ? ttl : undefined;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg()[0] ?? 0;
  await using world = await createWorld();
  const clients = world.use(new ClientThread());
  progress(`services up (namespace ${world.namespace})`);
  const writes = await measureWrites(world, clients, config, progress);
  const { feed, noCache, reads } = await measureReads(world, clients, config, progress);
  const results: ApiResults = {
    config,
    date: new Date().toISOString(),
    machine: {
      cores: availableParallelism(),
      cpus: `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? "?"}`,
      memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
      load: `${loadBefore.toFixed(2)} → ${(loadavg()[0] ?? 0).toFixed(2)}`,
      node: process.version,
      ...(await describeServers(world)),
    },
    contentPool: world.main.config.database.poolMax,
    feedCacheTtlSeconds: feedCacheTtl(world.main.config.extra),
    writes,
    feed: {
      readers: feed.readers.length,
      circles: feed.circleIds.length,
      posts: config.feed.posts,
      pageSize: feed.pageSize,
      pageBytes: feed.pageBytes,
    },
    noCache,
    reads,
    seconds: (performance.now() - started) / 1000,
  };
  process.stdout.write(renderText(results));
  await writeBenchSection(
    new URL("../../../docs/benchmarks.md", import.meta.url),
    "api",
    renderMarkdown(results),
  );
  progress("wrote its section of docs/benchmarks.md");
}

try {
  await main();
} catch (err) {
  for (let e: unknown = err, prefix = "api bench failed"; e !== undefined; prefix = "caused by") {
    process.stderr.write(`${prefix}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    e = e instanceof Error ? e.cause : undefined;
  }
  process.exitCode = 1;
}
