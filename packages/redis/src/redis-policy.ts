import {
  createResiliencePolicy,
  type Logger,
  type ResiliencePolicy,
  type ResiliencePolicyOptions,
} from "@kindred/resilience";
import { isTransientRedisError } from "./transient-errors.ts";

export interface RedisPolicyOptions {
  logger?: Logger;
  retry?: Partial<ResiliencePolicyOptions["retry"]>;
  breaker?: Partial<ResiliencePolicyOptions["breaker"]>;
}

/**
 * The resilience policy for Redis with Kindred's defaults: three attempts for idempotent calls,
 * and a breaker that opens after five consecutive connection failures for five seconds.
 */
export function createRedisPolicy(options: RedisPolicyOptions = {}): ResiliencePolicy {
  return createResiliencePolicy({
    name: "redis",
    isTransient: isTransientRedisError,
    retry: { maxAttempts: 3, initialDelayMs: 25, maxDelayMs: 500, ...options.retry },
    breaker: { consecutiveFailures: 5, halfOpenAfterMs: 5_000, ...options.breaker },
    logger: options.logger,
  });
}
