import { abortableDelay } from "@kindred/resilience";

export interface RateCapOptions {
  /** Requests per second, sustained. */
  ratePerSecond: number;
  /** Requests that may go at once after a quiet spell; by default one second's worth. */
  burst?: number;
  /** The longest a request waits for its turn; beyond that it is turned back at once. */
  maxWaitMs: number;
  /** The clock in milliseconds; a monotonic one by default (tests inject theirs). */
  nowMs?: () => number;
}

/**
 * A token bucket capping a push provider's requests per second. A request that finds the bucket
 * empty reserves the next free slot and waits for it, so waiters go in arrival order and the
 * rate holds under concurrency; when that slot is more than `maxWaitMs` away it is turned back
 * with the time to wait instead (and reserves nothing), so callers never pile up behind the cap.
 */
export class RateCap {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxWaitMs: number;
  readonly #nowMs: () => number;
  /** Below one: tokens already promised to waiting requests. */
  #tokens: number;
  #at: number;

  constructor(options: RateCapOptions) {
    const { ratePerSecond, maxWaitMs } = options;
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond))) {
      throw new RangeError(
        `the rate cap must be a positive number per second, got ${ratePerSecond}`,
      );
    }
    const burst = options.burst ?? Math.max(1, ratePerSecond);
    if (!(burst >= 1)) throw new RangeError("the rate cap's burst must be >= 1");
    if (!(maxWaitMs >= 0)) throw new RangeError("the rate cap's maxWaitMs must be >= 0");
    this.#perMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#maxWaitMs = maxWaitMs;
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#tokens = burst;
    this.#at = this.#nowMs();
  }

  /** `{ waitMs }`: a slot is reserved, send after waiting; `{ retryAfterMs }`: do not send. */
  reserve(): { waitMs: number } | { retryAfterMs: number } {
    this.#refill();
    const waitMs = this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
    if (waitMs > this.#maxWaitMs) return { retryAfterMs: waitMs };
    this.#tokens -= 1;
    return { waitMs };
  }

  /** Reserves a slot and waits for it; throws only when `signal` aborts (the slot is returned). */
  async take(signal?: AbortSignal): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    signal?.throwIfAborted();
    const slot = this.reserve();
    if ("retryAfterMs" in slot) return { ok: false, retryAfterMs: slot.retryAfterMs };
    if (slot.waitMs > 0) {
      try {
        await abortableDelay(slot.waitMs, signal);
      } catch (err) {
        this.give();
        throw err;
      }
    }
    return { ok: true };
  }

  /** Gives back a slot that was not used (the request never left). */
  give(): void {
    this.#refill();
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }

  #refill(): void {
    const at = this.#nowMs();
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, at - this.#at) * this.#perMs);
    this.#at = Math.max(this.#at, at);
  }
}
