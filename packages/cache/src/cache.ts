import { createHash } from "node:crypto";
import type { RedisClient } from "@kindred/redis";
import type { Logger } from "@kindred/resilience";
import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { type CacheMetrics, type CacheOperation, cacheMetrics } from "./cache-metrics.ts";
import { type CacheCodec, jsonCodec } from "./codecs.ts";

/** The longest an entry may live; a tag's generation outlives it (see `tagLifetimeSeconds`). */
export const maxTtlSeconds = 86_400;
/**
 * A tag's generation key expires this long after its last invalidation, so tags do not pile
 * up in Redis forever. It must outlive every entry stamped with it; see `invalidateScript`.
 */
const tagLifetimeSeconds = 2 * maxTtlSeconds;

export interface CacheOptions {
  redis: RedisClient;
  logger: Logger;
  registry?: Registry;
  /** The `cache` label of the metrics and part of each entry's key: `feed`, `circle-list`. */
  name: string;
  /**
   * Namespace of the keys: entries under `<prefix>:<name>:`, tag generations under
   * `<prefix>:tag:`, so every cache with one prefix shares tags (an invalidation through any of
   * them reaches all). One per service, e.g. `kindred:content`.
   */
  prefix: string;
  /** Redis failures are logged at most once per interval and operation (default 60 s). */
  warnIntervalMs?: number;
}

export interface CacheEntry {
  /** Unique within the cache, e.g. the user id and page token of a feed page. */
  key: string;
  /** What the value was computed from; `invalidate(tag)` makes it unreachable. Same on every call for one key. */
  tags?: readonly string[];
  /** Whole seconds, 1 to `maxTtlSeconds`: also how stale an entry may get while Redis is down. */
  ttlSeconds: number;
}

/**
 * One Redis round trip for a read: each tag's current generation (0 while it has none), and
 * the entry stored under the key stamped with them. The entry key is built here from KEYS[1]
 * (fine on one Redis server, not on Redis Cluster).
 */
const lookupScript = `
local generations = {}
for i = 2, #KEYS do
  generations[#generations + 1] = redis.call("GET", KEYS[i]) or "0"
end
local generation = table.concat(generations, ".")
return { generation, redis.call("GET", KEYS[1] .. "#" .. generation) }
`;

/**
 * Bumps each tag's generation. A tag without one (never invalidated, or expired) starts from
 * the server's clock in milliseconds, never from 1: entries stamped with the generations of an
 * expired tag key can then never become reachable again.
 */
const invalidateScript = `
local now = redis.call("TIME")
local fresh = string.format("%.0f", now[1] * 1000 + math.floor(now[2] / 1000))
for i = 1, #KEYS do
  if redis.call("EXISTS", KEYS[i]) == 1 then
    redis.call("INCR", KEYS[i])
  else
    redis.call("SET", KEYS[i], fresh)
  end
  redis.call("EXPIRE", KEYS[i], ARGV[1])
end
return #KEYS
`;

/** A loaded value and its encoding (none when the codec refused it). */
interface Filled {
  value: unknown;
  text: string | undefined;
}

/**
 * Caches hot reads (feed pages, circle lists, profiles) in Redis, invalidated by tag.
 *
 * - Each tag has a generation in Redis; an entry's key carries the generations of its tags at
 *   the time it was read, so `invalidate(tag)` makes every entry that depended on the tag
 *   unreachable at once (they expire by TTL). Generations are read before `load()` runs, so a
 *   write invalidated during a load leaves the loaded value unreachable, never served.
 * - Concurrent misses of one entry in this process share one `load()`.
 * - Fail-soft: when Redis fails or is slow (the client fails fast while disconnected), the
 *   read goes to `load()` and an invalidation is dropped, both logged and counted; entries
 *   then live at most their TTL past a missed invalidation.
 */
export class Cache {
  readonly name: string;
  readonly #redis: RedisClient;
  readonly #logger: Logger;
  readonly #metrics: CacheMetrics;
  readonly #valuePrefix: string;
  readonly #tagPrefix: string;
  readonly #warnIntervalMs: number;
  readonly #warnings = new Map<CacheOperation, { at: number; suppressed: number }>();
  readonly #flights = new Map<string, Promise<Filled>>();

  constructor(options: CacheOptions) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(options.name)) {
      throw new RangeError(
        `cache name must be lowercase letters, digits, _ -; got "${options.name}"`,
      );
    }
    if (options.prefix === "") throw new RangeError("cache prefix must not be empty");
    this.name = options.name;
    this.#redis = options.redis;
    this.#logger = options.logger;
    this.#metrics = cacheMetrics(options.registry);
    this.#valuePrefix = `${options.prefix}:${options.name}:`;
    this.#tagPrefix = `${options.prefix}:tag:`;
    this.#warnIntervalMs = options.warnIntervalMs ?? 60_000;
    for (const outcome of ["hit", "miss", "error"]) {
      this.#metrics.requests.labels(this.name, outcome).inc(0);
    }
    this.#metrics.invalidations.labels(this.name).inc(0);
  }

  /**
   * The cached value of `entry.key`, or `load()`'s result, stored for `ttlSeconds`. Never fails
   * because of Redis: only `load()`'s own errors reach the caller (and are not cached).
   */
  async getOrLoad<T>(
    entry: CacheEntry,
    load: () => Promise<T>,
    codec: CacheCodec = jsonCodec,
  ): Promise<T> {
    const { ttlSeconds, tags = [] } = entry;
    if (!(Number.isInteger(ttlSeconds) && ttlSeconds >= 1 && ttlSeconds <= maxTtlSeconds)) {
      throw new RangeError(`ttlSeconds must be a whole number from 1 to ${maxTtlSeconds}`);
    }
    const base = this.#valuePrefix + entry.key;
    let found: [generation: string, text: string | null];
    try {
      found = await this.#redis.execute((redis) =>
        lookup(redis, [base, ...tags.map((tag) => this.#tagPrefix + tag)]),
      );
    } catch (err) {
      this.#metrics.requests.labels(this.name, "error").inc();
      this.#passOver("lookup", err, { key: entry.key });
      return this.#roundTrip(await load(), codec) as T;
    }
    const [generation, text] = found;
    if (text !== null) {
      try {
        const value = codec.decode(text) as T;
        this.#metrics.requests.labels(this.name, "hit").inc();
        return value;
      } catch (err) {
        // Written by an older version or another codec: loaded again and overwritten.
        this.#passOver("decode", err, { key: entry.key });
      }
    }
    this.#metrics.requests.labels(this.name, "miss").inc();
    const key = `${base}#${generation}`;
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      flight = this.#fill(key, ttlSeconds, load, codec).finally(() => this.#flights.delete(key));
      this.#flights.set(key, flight);
    }
    const { value, text: filled } = await flight;
    if (filled === undefined) return value as T;
    // Each caller decodes its own copy: no caller sees another's mutations, and a miss returns
    // what a hit would.
    try {
      return codec.decode(filled) as T;
    } catch (err) {
      this.#passOver("decode", err, { key: entry.key });
      return value as T;
    }
  }

  /**
   * Makes every entry that depends on one of `tags` unreachable, in every cache with this
   * prefix. Call it after the change committed. Resolves `false` (logged and counted) when
   * Redis failed: the entries then stay until their TTL ends.
   */
  async invalidate(...tags: string[]): Promise<boolean> {
    if (tags.length === 0) return true;
    try {
      await this.#redis.execute(
        (redis) =>
          evalScript(
            redis,
            invalidateScript,
            tags.map((tag) => this.#tagPrefix + tag),
            [String(tagLifetimeSeconds)],
          ),
        // Bumping a generation twice costs one extra miss: worth a retry.
        { idempotent: true },
      );
      this.#metrics.invalidations.labels(this.name).inc(tags.length);
      return true;
    } catch (err) {
      this.#passOver("invalidate", err, { tags });
      return false;
    }
  }

  async #fill<T>(
    key: string,
    ttlSeconds: number,
    load: () => Promise<T>,
    codec: CacheCodec,
  ): Promise<Filled> {
    const value = await load();
    let text: string;
    try {
      text = codec.encode(value);
    } catch (err) {
      this.#passOver("encode", err, { key });
      return { value, text: undefined };
    }
    try {
      await this.#redis.execute((redis) => redis.set(key, text, "EX", ttlSeconds));
    } catch (err) {
      this.#passOver("store", err, { key });
    }
    return { value, text };
  }

  /** What a hit would return, also when Redis is down; the value itself if the codec fails. */
  #roundTrip(value: unknown, codec: CacheCodec): unknown {
    try {
      return codec.decode(codec.encode(value));
    } catch (err) {
      this.#passOver("encode", err, {});
      return value;
    }
  }

  /** Counts a failure; logs it unless one of its kind was logged within the interval. */
  #passOver(operation: CacheOperation, err: unknown, details: Record<string, unknown>): void {
    this.#metrics.failures.labels(this.name, operation).inc();
    const now = Date.now();
    const last = this.#warnings.get(operation);
    if (last !== undefined && now - last.at < this.#warnIntervalMs) {
      last.suppressed++;
      return;
    }
    this.#warnings.set(operation, { at: now, suppressed: 0 });
    const log = {
      cache: this.name,
      operation,
      err,
      ...details,
      ...(last === undefined || last.suppressed === 0 ? {} : { suppressed: last.suppressed }),
    };
    if (operation === "encode" || operation === "decode") {
      this.#logger.error(log, `cache could not ${operation} a value; using the source`);
    } else if (operation === "invalidate") {
      this.#logger.warn(
        log,
        "cache invalidation failed: entries of these tags may be stale until their TTL ends",
      );
    } else {
      this.#logger.warn(log, `cache ${operation} failed; using the source`);
    }
  }
}

function lookup(redis: Redis, keys: string[]): Promise<[string, string | null]> {
  return evalScript(redis, lookupScript, keys, []) as Promise<[string, string | null]>;
}

const shas = new Map<string, string>();

/** EVALSHA, and EVAL when the server does not know the script yet (or forgot it). */
async function evalScript(
  redis: Redis,
  script: string,
  keys: string[],
  args: string[],
): Promise<unknown> {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash("sha1").update(script).digest("hex");
    shas.set(script, sha);
  }
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith("NOSCRIPT"))) throw err;
    return await redis.eval(script, keys.length, ...keys, ...args);
  }
}
