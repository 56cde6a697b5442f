import type { Logger } from "@kindred/resilience";

/**
 * Logs a connection's state changes, not its every reconnect attempt: a dependency that is down
 * for an hour must not bury everything else. Failed attempts 1-3 are logged, then only the
 * 4th, 8th, 16th, ... (deterministic, so tests need no clock).
 */
export class ConnectionLog {
  readonly #name: string;
  readonly #logger: Logger;
  #state: "starting" | "up" | "down" | "stopping" = "starting";
  #failures = 0;
  #lastError: unknown;

  constructor(name: string, logger: Logger) {
    this.#name = name;
    this.#logger = logger;
  }

  /** The error of the last failed attempt since the connection was last up. */
  get lastError(): unknown {
    return this.#lastError;
  }

  failed(err: unknown): void {
    if (this.#state === "stopping") return;
    this.#lastError = err;
    if (this.#state === "up") {
      this.#lost(err);
      return;
    }
    this.#failures++;
    const n = this.#failures;
    if (n <= 3 || (n & (n - 1)) === 0) {
      const more = n === 3 ? "; further failures are logged at attempts 4, 8, 16, ..." : "";
      this.#logger.warn(
        { dependency: this.#name, err, attempt: n },
        `${this.#name} connection attempt failed, reconnecting${more}`,
      );
    }
  }

  ready(): void {
    if (this.#failures > 0 || this.#state === "down") {
      this.#logger.info(
        { dependency: this.#name, failedAttempts: this.#failures },
        `${this.#name} connection restored`,
      );
    } else {
      this.#logger.info({ dependency: this.#name }, `${this.#name} connected`);
    }
    this.#state = "up";
    this.#failures = 0;
    this.#lastError = undefined;
  }

  closed(): void {
    if (this.#state === "stopping") {
      this.#logger.info({ dependency: this.#name }, `${this.#name} connection closed`);
    } else if (this.#state === "up") {
      this.#lost(undefined);
    }
  }

  #lost(err: unknown): void {
    this.#state = "down";
    this.#logger.warn(
      { dependency: this.#name, err },
      `${this.#name} connection lost, reconnecting`,
    );
  }

  stopping(): void {
    this.#state = "stopping";
  }
}
