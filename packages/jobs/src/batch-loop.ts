/** pino's call shape; only `error` is used. */
interface Logger {
  error(obj: object, msg?: string): void;
}

export interface BatchLoopOptions {
  /** Handles one batch of due work and says how much it handled; 0 means nothing is due. */
  batch: (signal: AbortSignal) => Promise<number>;
  /** How often to look for work that no wake-up announced (other replicas, retries). */
  pollMs: number;
  logger: Logger;
  /** The log line when a batch throws (the loop goes on). */
  failureMessage: string;
}

/**
 * A background worker's loop: runs batches back to back while they find work, then waits for a
 * wake-up (work was just queued, after its commit) or the poll interval, until disposed. A batch
 * that throws is logged and the loop goes on. `drain()` runs batches until none finds work, for
 * tests and for shutdown-free one-off runs. Moderation's scanner and notifier's dispatcher are
 * built on it.
 */
export class BatchLoop implements AsyncDisposable {
  readonly #o: BatchLoopOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #pending = false;
  #busy: Promise<number> | undefined;

  constructor(options: BatchLoopOptions) {
    this.#o = options;
  }

  /** Aborts when the loop is disposed: pass it to the work in flight. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Runs soon: work was queued. */
  wake(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Runs batches until one finds nothing. Returns how much was handled in all. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  /** One batch; concurrent callers share the batch in flight. */
  runOnce(): Promise<number> {
    this.#busy ??= this.#o.batch(this.#stop.signal).finally(() => {
      this.#busy = undefined;
    });
    return this.#busy;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      this.#pending = false;
      try {
        const n = await this.runOnce();
        if (n > 0) continue;
      } catch (err) {
        this.#o.logger.error({ err }, this.#o.failureMessage);
      }
      if (this.#pending || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#o.pollMs);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
        this.#wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
      this.#wake = undefined;
    }
  }

  /** Stops the loop and waits for the batch in flight. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#busy?.catch(() => undefined);
  }
}
