import type { Logger } from "@kindred/logging";

type Hook = { name: string; run: (signal: AbortSignal) => Promise<void> | void };

/**
 * Ordered start and stop hooks. Starting runs the start hooks in registration order; each
 * stop hook registered by a started step runs, in reverse order, when stopping (also after a
 * failed start), all inside one deadline. Stop hooks live in an `AsyncDisposableStack`, so one
 * failing stop hook does not keep the others from running.
 */
export class Lifecycle {
  readonly #starts: Hook[] = [];
  readonly #stack = new AsyncDisposableStack();
  readonly #logger: Logger;
  #stopSignal: AbortSignal = AbortSignal.abort();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers a start step (and, optionally, what undoes it). */
  add(name: string, start: Hook["run"], stop?: Hook["run"]): this {
    this.#starts.push({
      name,
      run: async (signal) => {
        await start(signal);
        if (stop !== undefined) this.onStop(name, stop);
      },
    });
    return this;
  }

  /** Registers a stop step now (for resources created before start). */
  onStop(name: string, stop: Hook["run"]): this {
    this.#stack.defer(async () => {
      const started = Date.now();
      try {
        await stop(this.#stopSignal);
        this.#logger.debug({ step: name, ms: Date.now() - started }, "stopped");
      } catch (err) {
        this.#logger.error({ step: name, err }, "stop step failed");
        throw err;
      }
    });
    return this;
  }

  /** Takes ownership of a resource: disposed when stopping. */
  use<T extends AsyncDisposable | Disposable>(name: string, resource: T): T {
    this.onStop(name, async () => {
      if (Symbol.asyncDispose in resource) await resource[Symbol.asyncDispose]();
      else resource[Symbol.dispose]();
    });
    return resource;
  }

  async start(signal: AbortSignal): Promise<void> {
    for (const hook of this.#starts) {
      signal.throwIfAborted();
      await hook.run(signal);
    }
  }

  /** Runs every stop step in reverse order; `deadline` is handed to each step. */
  async stop(deadline: AbortSignal): Promise<void> {
    this.#stopSignal = deadline;
    if (this.#stack.disposed) return;
    try {
      await this.#stack.disposeAsync();
    } catch (err) {
      this.#logger.error({ err }, "some stop steps failed");
    }
  }
}
