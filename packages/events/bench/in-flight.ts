/** Bounds how many promises run at once; the first failure is rethrown by `acquire`/`drain`. */
export class InFlight {
  readonly #limit: number;
  #count = 0;
  #error: unknown;
  #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Resolves once there is room for one more. */
  async acquire(): Promise<void> {
    while (this.#count >= this.#limit) await new Promise<void>((r) => this.#waiters.push(r));
    if (this.#error !== undefined) throw this.#error;
  }

  track(work: Promise<unknown>): void {
    this.#count++;
    work.then(
      () => this.#release(),
      (err: unknown) => {
        this.#error ??= err;
        this.#release();
      },
    );
  }

  /** Resolves when everything tracked has settled. */
  async drain(): Promise<void> {
    while (this.#count > 0) await new Promise<void>((r) => this.#waiters.push(r));
    if (this.#error !== undefined) throw this.#error;
  }

  #release(): void {
    this.#count--;
    this.#waiters.shift()?.();
  }
}
