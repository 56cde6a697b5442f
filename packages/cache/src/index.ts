export { Cache, type CacheEntry, type CacheOptions, maxTtlSeconds } from "./cache.ts";
export { type CacheMetrics, type CacheOperation, cacheMetrics } from "./cache-metrics.ts";
export { type CacheCodec, jsonCodec, taggedJsonCodec } from "./codecs.ts";
