export type { RedisConfig } from "./config.ts";
export { RedisClient, type RedisClientDeps, reconnectDelayMs } from "./redis-client.ts";
export { createRedisPolicy, type RedisPolicyOptions } from "./redis-policy.ts";
export { isTransientRedisError, RedisNotConnectedError } from "./transient-errors.ts";
