/** How a service reaches Redis; built by the service's config schema. */
export interface RedisConfig {
  /** `redis://host:6379/0` (or `rediss://` for TLS). */
  url: string;
  /** Secret, read from a mounted file; overrides any password in `url`. */
  password?: string;
  /** Give up one connection attempt after this long (reconnecting goes on). */
  connectTimeoutMs: number;
  /** Reject a command without a reply after this long, so a hung server cannot hang callers. */
  commandTimeoutMs: number;
  /** Prepended to every key, so services (and test files) sharing a server never collide. */
  keyPrefix?: string;
}
