import { setTimeout as sleep } from "node:timers/promises";
import { RedisClient } from "@kindred/redis";
import { closedPort, recordingLogger, testEnv, uniqueName, waitUntil } from "@kindred/testing";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Cache, type CacheOptions, taggedJsonCodec } from "../src/index.ts";

let cleanup: AsyncDisposableStack;
let prefix: string;

beforeEach(() => {
  cleanup = new AsyncDisposableStack();
  prefix = uniqueName("kt_cache");
});

afterEach(async () => {
  await cleanup.disposeAsync();
});

async function connect(url = testEnv.redisUrl, keyPrefix?: string): Promise<RedisClient> {
  const redis = RedisClient.create(
    { url, connectTimeoutMs: 500, commandTimeoutMs: 1_000, ...(keyPrefix ? { keyPrefix } : {}) },
    { logger: recordingLogger() },
  );
  cleanup.use(redis);
  if (url === testEnv.redisUrl) {
    await redis.whenReady();
    cleanup.defer(async () => {
      const keys = await redis.redis.keys(`${keyPrefix ?? ""}${prefix}:*`);
      const prefixLength = (keyPrefix ?? "").length;
      if (keys.length > 0) await redis.redis.del(...keys.map((k) => k.slice(prefixLength)));
    });
  }
  return redis;
}

async function cacheOn(redis: RedisClient, options: Partial<CacheOptions> = {}) {
  const logger = recordingLogger();
  const registry = new Registry();
  const cache = new Cache({ redis, logger, registry, name: "feed", prefix, ...options });
  return { cache, logger, registry: options.registry ?? registry };
}

/** A source that counts its loads and returns `value(n)` on the n-th. */
function source<T>(value: (n: number) => T, delayMs = 0) {
  const counter = {
    loads: 0,
    load: async () => {
      counter.loads++;
      const n = counter.loads;
      if (delayMs > 0) await sleep(delayMs);
      return value(n);
    },
  };
  return counter;
}

async function requests(registry: Registry, outcome: string): Promise<number> {
  const metric = registry.getSingleMetric("kindred_cache_requests_total");
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe("Cache", () => {
  it("loads on a miss and serves the stored value on the next read", async () => {
    const { cache, registry } = await cacheOn(await connect());
    const feed = source((n) => ({ page: n, posts: ["a", "b"] }));
    const entry = { key: "user:1:page:first", tags: ["feed:user:1"], ttlSeconds: 60 };

    await expect(cache.getOrLoad(entry, feed.load)).resolves.toEqual({
      page: 1,
      posts: ["a", "b"],
    });
    await expect(cache.getOrLoad(entry, feed.load)).resolves.toEqual({
      page: 1,
      posts: ["a", "b"],
    });
    expect(feed.loads).toBe(1);
    expect(await requests(registry, "miss")).toBe(1);
    expect(await requests(registry, "hit")).toBe(1);
    expect(await requests(registry, "error")).toBe(0);
  });

  it("loads again once the entry's TTL has passed", async () => {
    const { cache } = await cacheOn(await connect());
    const profile = source((n) => ({ version: n }));
    const entry = { key: "profile:7", ttlSeconds: 1 };
    const stored = performance.now();
    await cache.getOrLoad(entry, profile.load);
    await cache.getOrLoad(entry, profile.load);
    expect(profile.loads).toBe(1);
    await waitUntil(
      () => cache.getOrLoad(entry, profile.load),
      (value) => value.version === 2,
      { what: "the entry to expire", timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(performance.now() - stored).toBeGreaterThanOrEqual(900);
  });

  it("invalidates every entry of a tag, in every cache of the prefix, and keeps the rest", async () => {
    const redis = await connect();
    const { cache: feed, registry } = await cacheOn(redis);
    const { cache: circles } = await cacheOn(redis, { name: "circle-list", registry });
    const pages = source((n) => `feed page v${n}`);
    const list = source((n) => `circle list v${n}`);
    const other = source((n) => `other circle v${n}`);
    const read = () =>
      Promise.all([
        feed.getOrLoad(
          { key: "user:1", tags: ["feed:user:1", "circle:9"], ttlSeconds: 60 },
          pages.load,
        ),
        circles.getOrLoad({ key: "circle:9", tags: ["circle:9"], ttlSeconds: 60 }, list.load),
        circles.getOrLoad({ key: "circle:10", tags: ["circle:10"], ttlSeconds: 60 }, other.load),
      ]);

    expect(await read()).toEqual(["feed page v1", "circle list v1", "other circle v1"]);
    expect(await read()).toEqual(["feed page v1", "circle list v1", "other circle v1"]);
    await expect(feed.invalidate("circle:9")).resolves.toBe(true);
    expect(await read()).toEqual(["feed page v2", "circle list v2", "other circle v1"]);
    await expect(circles.invalidate("feed:user:1", "circle:404")).resolves.toBe(true);
    expect(await read()).toEqual(["feed page v3", "circle list v2", "other circle v1"]);

    const text = await registry.metrics();
    expect(text).toContain('kindred_cache_invalidations_total{cache="feed"} 1');
    expect(text).toContain('kindred_cache_invalidations_total{cache="circle-list"} 2');
  });

  it("never stores a value loaded across an invalidation where it can be read", async () => {
    const { cache } = await cacheOn(await connect());
    const release = Promise.withResolvers<void>();
    cleanup.defer(() => release.resolve());
    let loads = 0;
    const load = async () => {
      loads++;
      if (loads === 1) await release.promise; // the read began before the write committed
      return `v${loads}`;
    };
    const entry = { key: "post:1", tags: ["post:1"], ttlSeconds: 60 };
    const slow = cache.getOrLoad(entry, load);
    await waitUntil(
      async () => loads,
      (n) => n === 1,
      { what: "the slow load" },
    );
    await cache.invalidate("post:1");
    release.resolve();
    await expect(slow).resolves.toBe("v1");
    await expect(cache.getOrLoad(entry, load)).resolves.toBe("v2");
  });

  it("round-trips bigint and Date values through the tagged codec, hit or miss", async () => {
    const { cache } = await cacheOn(await connect());
    const row = {
      id: 9_007_199_254_740_993n,
      createdAt: new Date("2026-11-25T10:00:00.123Z"),
      tags: [1n, new Date(0)],
      meta: { $bigint: "not a bigint", $date: "not a date" },
      nothing: null,
    };
    const entry = { key: "post:big", ttlSeconds: 60 };
    const miss = await cache.getOrLoad(entry, async () => row, taggedJsonCodec);
    const hit = await cache.getOrLoad(entry, async () => ({}) as typeof row, taggedJsonCodec);
    expect(miss).toEqual(row);
    expect(hit).toEqual(row);
    expect(hit.createdAt).toBeInstanceOf(Date);
    expect(typeof hit.id).toBe("bigint");
    expect(hit).not.toBe(row);
  });

  it("loads once for concurrent misses of one entry", async () => {
    const { cache, registry } = await cacheOn(await connect());
    const feed = source((n) => ({ page: n }), 50);
    const entry = { key: "user:2", tags: ["feed:user:2"], ttlSeconds: 60 };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => cache.getOrLoad(entry, feed.load)),
    );
    expect(feed.loads).toBe(1);
    expect(results).toEqual(Array.from({ length: 10 }, () => ({ page: 1 })));
    expect(new Set(results).size).toBe(10); // each caller has its own copy
    expect(await requests(registry, "miss")).toBe(10);
  });

  it("passes a loader's error on, to every waiting caller, without caching it", async () => {
    const { cache, registry } = await cacheOn(await connect());
    let loads = 0;
    const failing = async () => {
      loads++;
      await sleep(20);
      throw new Error("database said no");
    };
    const entry = { key: "user:3", ttlSeconds: 60 };
    const results = await Promise.allSettled([
      cache.getOrLoad(entry, failing),
      cache.getOrLoad(entry, failing),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(loads).toBe(1);
    await expect(cache.getOrLoad(entry, async () => "ok")).resolves.toBe("ok");
    expect(await requests(registry, "error")).toBe(0);
  });

  it("works under the client's key prefix", async () => {
    const redis = await connect(testEnv.redisUrl, `${uniqueName("kt_prefix")}:`);
    const { cache } = await cacheOn(redis);
    const feed = source((n) => n);
    const entry = { key: "user:4", tags: ["feed:user:4"], ttlSeconds: 60 };
    await cache.getOrLoad(entry, feed.load);
    await cache.getOrLoad(entry, feed.load);
    await cache.invalidate("feed:user:4");
    await expect(cache.getOrLoad(entry, feed.load)).resolves.toBe(2);
    expect(feed.loads).toBe(2);
  });

  it("gives tag generations a lifetime, so tags do not pile up in Redis", async () => {
    const redis = await connect();
    const { cache } = await cacheOn(redis);
    await cache.invalidate("circle:1");
    const key = `${prefix}:tag:circle:1`;
    expect(await redis.redis.ttl(key)).toBeGreaterThan(86_400);
    // A tag that had no generation starts from the clock, not from 1.
    expect(Number(await redis.redis.get(key))).toBeGreaterThan(Date.now() - 60_000);
  });

  it("reads from the source, counted as errors, when Redis is unreachable", async () => {
    const redis = await connect(`redis://127.0.0.1:${await closedPort()}`);
    const { cache, logger, registry } = await cacheOn(redis);
    const profile = source((n) => ({ version: n, at: new Date(0) }));
    const entry = { key: "profile:1", tags: ["user:1"], ttlSeconds: 60 };

    for (let i = 1; i <= 3; i++) {
      await expect(cache.getOrLoad(entry, profile.load, taggedJsonCodec)).resolves.toEqual({
        version: i,
        at: new Date(0),
      });
    }
    await expect(cache.invalidate("user:1")).resolves.toBe(false);
    expect(await requests(registry, "error")).toBe(3);
    const text = await registry.metrics();
    expect(text).toContain('kindred_cache_failures_total{cache="feed",operation="lookup"} 3');
    expect(text).toContain('kindred_cache_failures_total{cache="feed",operation="invalidate"} 1');
    expect(text).toContain('kindred_cache_invalidations_total{cache="feed"} 0');
    // One warning per kind of failure and interval, not one per request.
    expect(logger.entries.filter((e) => e.level === "warn").map((e) => e.obj.operation)).toEqual([
      "lookup",
      "invalidate",
    ]);
  });

  it("rejects a bad name or TTL", async () => {
    const redis = await connect(`redis://127.0.0.1:${await closedPort()}`);
    expect(() => new Cache({ redis, logger: recordingLogger(), name: "Feed!", prefix })).toThrow(
      RangeError,
    );
    const { cache } = await cacheOn(redis);
    await expect(cache.getOrLoad({ key: "k", ttlSeconds: 0 }, async () => 1)).rejects.toThrow(
      RangeError,
    );
    await expect(cache.getOrLoad({ key: "k", ttlSeconds: 1.5 }, async () => 1)).rejects.toThrow(
      RangeError,
    );
  });
});
