import { describe, expect, it } from "vitest";
import { BatchLoop } from "../src/index.ts";

const quiet = { error() {} };

describe("BatchLoop", () => {
  it("runs batches while they find work, sleeps, and wakes at once when told", async () => {
    let queued = 3;
    const seen: number[] = [];
    await using loop = new BatchLoop({
      pollMs: 60_000,
      logger: quiet,
      failureMessage: "failed",
      batch: async () => {
        const n = Math.min(queued, 2);
        queued -= n;
        seen.push(n);
        return n;
      },
    });
    loop.start();
    await expect.poll(() => queued).toBe(0);
    await expect.poll(() => seen.at(-1)).toBe(0);
    // Asleep for a minute; a wake-up runs the new work now.
    queued = 1;
    loop.wake();
    await expect.poll(() => queued, { timeout: 2_000 }).toBe(0);
  });

  it("logs a failing batch and goes on; drain runs until nothing is found; dispose aborts the work", async () => {
    const errors: string[] = [];
    let calls = 0;
    let seenSignal: AbortSignal | undefined;
    const loop = new BatchLoop({
      pollMs: 10,
      logger: { error: (_obj, msg) => errors.push(String(msg)) },
      failureMessage: "batch failed",
      batch: async (signal) => {
        seenSignal = signal;
        calls += 1;
        if (calls === 1) throw new Error("boom");
        return 0;
      },
    });
    loop.start();
    await expect.poll(() => calls).toBeGreaterThan(1);
    expect(errors[0]).toBe("batch failed");
    expect(await loop.drain()).toBe(0);
    await loop[Symbol.asyncDispose]();
    expect(seenSignal?.aborted).toBe(true);
    expect(loop.signal.aborted).toBe(true);
  });
});
