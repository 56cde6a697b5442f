import { toBinary } from "@bufbuild/protobuf";
import { loadContentConfig } from "@kindred/content/config";
import { Visibility } from "@kindred/proto/circles/v1";
import { ListFeedResponseSchema } from "@kindred/proto/content/v1";
import { testServiceEnv } from "@kindred/service-kit";
import { closedPort } from "@kindred/testing";
import { postBody } from "./fixture.ts";
import { memberInContent, type Person, type World } from "./world.ts";

/** Calls `task(0…count-1)`, `concurrency` at a time. */
async function inParallel(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export interface Feed {
  readers: Person[];
  circleIds: string[];
  /** Posts on the first page ListFeed answers (the default page size). */
  pageSize: number;
  /** That page as binary protobuf. */
  pageBytes: number;
}

/**
 * Readers who are members of `circles` open circles (made and joined through circles), in which
 * a host wrote `posts` posts through the gateway, evenly spread.
 */
export async function seedFeed(
  world: World,
  shape: { readers: number; circles: number; posts: number },
): Promise<Feed> {
  const host = await world.register("Host");
  const readers: Person[] = [];
  for (let i = 1; i <= shape.readers; i++) readers.push(await world.register(`Reader${i}`));
  const circleIds: string[] = [];
  for (let i = 1; i <= shape.circles; i++) {
    const { circle } = await host.circles.createCircle({
      name: `Feed circle ${i}`,
      description: "API bench: feed reads",
      visibility: Visibility.OPEN,
    });
    if (circle === undefined) throw new Error("CreateCircle gave no circle");
    circleIds.push(circle.id);
    for (const reader of readers) await reader.circles.joinCircle({ circleId: circle.id });
  }
  for (const circleId of circleIds) await memberInContent(host, circleId);
  await inParallel(shape.posts, 8, (i) =>
    host.posts.createPost({
      circleId: circleIds[i % circleIds.length] ?? "",
      body: `${i + 1}. ${postBody}`,
    }),
  );
  for (const reader of readers) {
    for (const circleId of circleIds) await memberInContent(reader, circleId);
  }
  const page = await (readers[0] as Person).posts.listFeed({});
  if (page.posts.length === 0) throw new Error("a reader's feed is empty after seeding");
  return {
    readers,
    circleIds,
    pageSize: page.posts.length,
    pageBytes: toBinary(ListFeedResponseSchema, page).length,
  };
}

/** How the second content was configured to read its feed without the cache, and why. */
export interface NoCache {
  extra: Record<string, string>;
  /** What the report says about it. */
  how: string;
  kind: "switch" | "redis-down" | "none";
}

/**
 * How to start content without its feed cache. In order: variables given in
 * `BENCH_API_NO_CACHE_ENV`; `FEED_CACHE_TTL_SECONDS=0` when content's config declares that
 * variable and accepts 0; else Redis at a port nothing listens on (the cache's fail-soft path:
 * each read tries Redis, fails fast, loads from PostgreSQL). The bench then checks content's
 * cache metrics to see which path the reads took.
 */
export async function noCacheConfig(
  given: Record<string, string> | undefined,
  baseExtra: Record<string, string>,
): Promise<NoCache> {
  if (given !== undefined) {
    return {
      extra: given,
      kind: "switch",
      how: `content started with ${Object.entries(given)
        .map(([k, v]) => `\`${k}=${v}\``)
        .join(", ")} (from \`BENCH_API_NO_CACHE_ENV\`)`,
    };
  }
  const env = (extra: Record<string, string>) =>
    testServiceEnv({ extra: { ...baseExtra, ...extra } });
  const ttl = { FEED_CACHE_TTL_SECONDS: "0" };
  try {
    const config = loadContentConfig(env(ttl));
    if (Object.hasOwn(config.extra, "FEED_CACHE_TTL_SECONDS")) {
      return { extra: ttl, kind: "switch", how: "content started with `FEED_CACHE_TTL_SECONDS=0`" };
    }
  } catch {
    // 0 is not a valid TTL: there is no such switch.
  }
  if (Object.hasOwn(loadContentConfig(env({})), "redis")) {
    const extra = { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` };
    return {
      extra,
      kind: "redis-down",
      how:
        "content's config has no switch that turns the feed cache off (`FEED_CACHE_TTL_SECONDS=0` is not accepted), " +
        "so that content was started with `REDIS_URL` at a port nothing listens on: this measures the cache's fail-soft path " +
        "(each read tries Redis, fails fast, and reads PostgreSQL)",
    };
  }
  return {
    extra: {},
    kind: "none",
    how: "content reads no Redis settings and has no feed cache switch: both variants run the same content",
  };
}
