/** What to do with a client message, as its connection's rate allows. */
export type RateVerdict =
  /** Handle it. */
  | "accept"
  /** Refuse it and tell the client (an error frame, at most one a second). */
  | "refuse"
  /** Refuse it without a word: the client was told less than a second ago. */
  | "refuse-quietly"
  /** The client kept sending over its rate for too long: close it. */
  | "close";

export interface MessageRateOptions {
  /** Messages a second, on average. */
  perSecond: number;
  /** Messages at once (the bucket's size; it starts full). */
  burst: number;
  /** How long a client may keep going over the rate before `close`. */
  floodCloseMs: number;
}

/** Refusals less than this far apart belong to one flood; a longer pause ends it. */
const floodPauseMs = 1_000;
/** The client is told it is rate limited at most this often. */
const tellEveryMs = 1_000;

/**
 * A token bucket per connection: `burst` messages at once, refilled at `perSecond`. A message
 * without a token is refused. Refusals that keep coming (less than a second apart) for
 * `floodCloseMs` mean a client that does not slow down: it is closed. Times are `Date.now()`
 * milliseconds, passed in.
 */
export class MessageRate {
  readonly #options: MessageRateOptions;
  #tokens: number;
  #updatedAt: number | undefined;
  /** When the current flood began; undefined when there is none. */
  #floodSince: number | undefined;
  #lastRefused = 0;
  #lastTold = Number.NEGATIVE_INFINITY;

  constructor(options: MessageRateOptions) {
    this.#options = options;
    this.#tokens = options.burst;
  }

  take(now: number): RateVerdict {
    const { perSecond, burst, floodCloseMs } = this.#options;
    if (this.#updatedAt !== undefined) {
      const elapsed = Math.max(0, now - this.#updatedAt);
      this.#tokens = Math.min(burst, this.#tokens + (elapsed * perSecond) / 1_000);
    }
    this.#updatedAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return "accept";
    }
    if (this.#floodSince === undefined || now - this.#lastRefused > floodPauseMs) {
      this.#floodSince = now;
    }
    this.#lastRefused = now;
    if (now - this.#floodSince >= floodCloseMs) return "close";
    if (now - this.#lastTold < tellEveryMs) return "refuse-quietly";
    this.#lastTold = now;
    return "refuse";
  }
}
