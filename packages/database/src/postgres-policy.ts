import {
  createResiliencePolicy,
  type Logger,
  type ResiliencePolicy,
  type ResiliencePolicyOptions,
} from "@kindred/resilience";
import { isPostgresOutage, isTransientPostgresError } from "./transient-errors.ts";

export interface PostgresPolicyOptions {
  logger?: Logger;
  retry?: Partial<ResiliencePolicyOptions["retry"]>;
  breaker?: Partial<ResiliencePolicyOptions["breaker"]>;
}

/**
 * The resilience policy for PostgreSQL with Kindred's defaults: three attempts for idempotent
 * transactions, and a breaker that opens after five consecutive outage errors for five seconds.
 * Contention (serialization failures, deadlocks) is retried but never opens the breaker.
 */
export function createPostgresPolicy(options: PostgresPolicyOptions = {}): ResiliencePolicy {
  return createResiliencePolicy({
    name: "postgres",
    isTransient: isTransientPostgresError,
    isOutage: isPostgresOutage,
    retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 1_000, ...options.retry },
    breaker: { consecutiveFailures: 5, halfOpenAfterMs: 5_000, ...options.breaker },
    logger: options.logger,
  });
}
