import { DependencyUnavailableError } from "@kindred/errors";
import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoff,
  isBrokenCircuitError,
} from "cockatiel";
import { abortableDelay } from "./abortable-delay.ts";
import type { Logger } from "./logger.ts";

export type CircuitStateName = "closed" | "open" | "half-open";

export interface ResiliencePolicyOptions {
  /** The dependency's name ("postgres", "redis"): carried by `DependencyUnavailableError`. */
  name: string;
  /** Whether trying again may succeed (dropped connection, timeout, serialization failure). */
  isTransient(err: unknown): boolean;
  /**
   * Whether the error says the dependency itself is unreachable or unhealthy; only these count
   * towards the breaker. Defaults to `isTransient`. Set it when some transient errors prove the
   * dependency is up (a serialization failure or deadlock is contention, not an outage, and
   * must not turn one hot row into a full outage by opening the circuit).
   */
  isOutage?(err: unknown): boolean;
  retry: {
    /** Attempts in total, the first included, for idempotent calls. */
    maxAttempts: number;
    initialDelayMs: number;
    maxDelayMs: number;
  };
  breaker: {
    /** Consecutive outage errors that open the circuit. */
    consecutiveFailures: number;
    /** How long an open circuit fails fast before letting one probe call through. */
    halfOpenAfterMs: number;
  };
  logger?: Logger;
}

export interface ExecuteOptions {
  /**
   * Safe to run more than once (the whole function re-runs on a transient failure). Off by
   * default: repeating a non-idempotent call after an ambiguous failure can apply it twice.
   */
  idempotent?: boolean;
  /** Stops waiting between attempts; passed on to `fn`. */
  signal?: AbortSignal;
}

/**
 * Retries with backoff behind a circuit breaker, so callers of a flaky or dead dependency get
 * either a result, their own (non-transient) error unchanged, or `DependencyUnavailableError`,
 * quickly, instead of piling up on timeouts.
 */
export interface ResiliencePolicy {
  readonly name: string;
  readonly state: CircuitStateName;
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, opts?: ExecuteOptions): Promise<T>;
  /** Returns a function that removes the listener. */
  onStateChange(listener: (state: CircuitStateName) => void): () => void;
}

/** Wraps an error that passed through the breaker without counting as a failure. */
class PassedThrough {
  readonly error: unknown;

  constructor(error: unknown) {
    this.error = error;
  }
}

const stateNames: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "open",
};

/**
 * Builds one policy per dependency; share it between all calls to that dependency, or the
 * breaker never sees enough failures to open.
 */
export function createResiliencePolicy(options: ResiliencePolicyOptions): ResiliencePolicy {
  validate(options);
  const { name, isTransient, retry, logger } = options;
  const isOutage = options.isOutage ?? isTransient;
  const breaker = circuitBreaker(
    handleWhen((err) => isOutage(err)),
    {
      halfOpenAfter: options.breaker.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breaker.consecutiveFailures),
    },
  );
  const backoff = new ExponentialBackoff({
    initialDelay: retry.initialDelayMs,
    maxDelay: retry.maxDelayMs,
  });

  breaker.onStateChange((state) => {
    const last = breaker.lastFailure;
    const err = last !== undefined && "error" in last ? last.error : undefined;
    if (state === CircuitState.Open) {
      logger?.warn({ dependency: name, err }, `${name} circuit opened: failing fast`);
    } else if (state === CircuitState.HalfOpen) {
      logger?.info({ dependency: name }, `${name} circuit half-open: probing`);
    } else if (state === CircuitState.Closed) {
      logger?.info({ dependency: name }, `${name} circuit closed: dependency answers again`);
    }
  });

  async function attempt<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal) {
    const outcome = await breaker.execute(async (context) => {
      try {
        return await fn(context.signal);
      } catch (err) {
        // The dependency answered (a unique violation, a domain error): for the breaker a
        // success, so it neither opens nor stays open on the caller's own errors.
        if (isOutage(err)) throw err;
        return new PassedThrough(err);
      }
    }, signal);
    if (outcome instanceof PassedThrough) throw outcome.error;
    return outcome;
  }

  function circuitOpenError(cause: unknown): DependencyUnavailableError {
    const last = breaker.lastFailure;
    const lastError = last !== undefined && "error" in last ? last.error : cause;
    return new DependencyUnavailableError(name, {
      cause: new Error(`${name} circuit is open after repeated failures`, { cause: lastError }),
    });
  }

  return {
    name,
    get state() {
      return stateNames[breaker.state];
    },
    onStateChange(listener) {
      const subscription = breaker.onStateChange((state) => listener(stateNames[state]));
      return () => subscription.dispose();
    },
    async execute(fn, { idempotent = false, signal } = {}) {
      const maxAttempts = idempotent ? retry.maxAttempts : 1;
      let delay: IBackoff<unknown> | undefined;
      for (let attemptNo = 1; ; attemptNo++) {
        signal?.throwIfAborted();
        try {
          return await attempt(fn, signal);
        } catch (err) {
          if (isBrokenCircuitError(err)) throw circuitOpenError(err);
          if (!isTransient(err)) throw err;
          if (attemptNo >= maxAttempts) {
            throw new DependencyUnavailableError(name, { cause: err });
          }
          delay = delay === undefined ? backoff.next() : delay.next(undefined);
          const delayMs = Math.round(delay.duration);
          logger?.debug(
            { dependency: name, err, attempt: attemptNo, delayMs },
            `${name} call failed transiently, retrying`,
          );
          await abortableDelay(delayMs, signal);
        }
      }
    },
  };
}

function validate({ retry, breaker }: ResiliencePolicyOptions): void {
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${retry.maxAttempts}`);
  }
  if (!(retry.initialDelayMs >= 0 && retry.maxDelayMs >= retry.initialDelayMs)) {
    throw new RangeError("retry delays must satisfy 0 <= initialDelayMs <= maxDelayMs");
  }
  if (!Number.isInteger(breaker.consecutiveFailures) || breaker.consecutiveFailures < 1) {
    throw new RangeError(
      `breaker.consecutiveFailures must be an integer >= 1, got ${breaker.consecutiveFailures}`,
    );
  }
  if (!(breaker.halfOpenAfterMs >= 0)) {
    throw new RangeError("breaker.halfOpenAfterMs must be >= 0");
  }
}
