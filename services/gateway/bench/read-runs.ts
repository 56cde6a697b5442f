import type { ClientThread } from "./client-thread.ts";
import type { BenchConfig } from "./config.ts";
import { type Feed, type NoCache, noCacheConfig, seedFeed } from "./feed.ts";
import { measure, type Run } from "./runs.ts";
import type { ContentStack, World } from "./world.ts";
import { orderOf, procedureOf } from "./write-runs.ts";

export interface ReadResults {
  feed: Feed;
  noCache: NoCache;
  reads: { cached: Run[]; uncached: Run[] };
}

/**
 * Feed reads, alternated, through two gateways: one in front of content as configured by
 * default (with its feed cache), one in front of a second content on the same database and
 * events, configured without it (`noCacheConfig`). Nothing is written meanwhile.
 */
export async function measureReads(
  world: World,
  clients: ClientThread,
  config: BenchConfig,
  progress: (line: string) => void,
): Promise<ReadResults> {
  const f = config.feed;
  const feed = await seedFeed(world, f);
  progress(`feed: ${f.readers} readers, ${f.circles} circles, ${f.posts} posts`);
  const noCache = await noCacheConfig(config.noCacheEnv, { EVENTS_NAMESPACE: world.namespace });
  const stacks: Record<"cached" | "uncached", ContentStack> = {
    cached: world.main,
    uncached: await world.startContent(noCache.extra),
  };
  progress(`content without the cache: ${noCache.kind}`);
  const tokens = feed.readers.map((reader) => reader.accessToken);
  const read = (variant: keyof typeof stacks, count: number) =>
    measure(
      () =>
        clients.run({
          call: "listFeed",
          baseUrl: stacks[variant].gateway.url,
          tokens,
          count,
          concurrency: f.concurrency,
          maxSeconds: config.maxRunSeconds,
        }),
      { content: stacks[variant].content, procedure: procedureOf("ListFeed") },
    );
  const variants = ["cached", "uncached"] as const;
  for (const variant of variants) await read(variant, f.warmup);
  const reads: ReadResults["reads"] = { cached: [], uncached: [] };
  for (let r = 1; r <= config.repeats; r++) {
    for (const variant of orderOf(variants, r)) {
      reads[variant].push(await read(variant, f.reads));
      progress(`run ${r}: feed ${variant} ${Math.round(reads[variant].at(-1)?.perSecond ?? 0)}/s`);
    }
  }
  return { feed, noCache, reads };
}
