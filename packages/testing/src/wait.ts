import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `probe` until it returns a value other than `undefined`, or fails after `timeoutMs`
 * with the last error. For waiting on another process (a child service becoming ready), where
 * no in-process idle hook exists.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 15_000, intervalMs = 50, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

/**
 * Polls `probe` until `ok` accepts its value and returns that value; on timeout the error shows
 * the last value. For waiting on state another process or component changes.
 */
export async function waitUntil<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  { timeoutMs = 30_000, intervalMs = 50, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(value).slice(0, 300)}`,
      );
    }
    await sleep(intervalMs);
  }
}
