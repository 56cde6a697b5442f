import { DependencyUnavailableError } from "@kindred/errors";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type CircuitStateName,
  createResiliencePolicy,
  type Logger,
  type ResiliencePolicyOptions,
} from "../src/index.ts";

class Transient extends Error {}
class Contention extends Error {}
class Permanent extends Error {}

interface Entry {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger(): Logger & { entries: Entry[] } {
  const entries: Entry[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

function policyWith(overrides: Partial<ResiliencePolicyOptions> = {}) {
  return createResiliencePolicy({
    name: "fake-db",
    isTransient: (err) => err instanceof Transient || err instanceof Contention,
    isOutage: (err) => err instanceof Transient,
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
    breaker: { consecutiveFailures: 3, halfOpenAfterMs: 1_000 },
    ...overrides,
  });
}

/** A fake call that fails with the given errors, in order, then returns "ok". */
function failing(...errors: Error[]) {
  let calls = 0;
  const fn = async (_signal: AbortSignal): Promise<string> => {
    const err = errors[calls];
    calls++;
    if (err !== undefined) throw err;
    return "ok";
  };
  return { fn, calls: () => calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("execute", () => {
  it("returns the result of a call that succeeds", async () => {
    const policy = policyWith();
    const call = failing();
    await expect(policy.execute(call.fn)).resolves.toBe("ok");
    expect(call.calls()).toBe(1);
  });

  it("passes an AbortSignal to the function", async () => {
    const policy = policyWith();
    const controller = new AbortController();
    let received: AbortSignal | undefined;
    await policy.execute(
      async (signal) => {
        received = signal;
      },
      { signal: controller.signal },
    );
    expect(received).toBe(controller.signal);
  });

  it("tries a non-idempotent call once and reports a transient failure as unavailable", async () => {
    const policy = policyWith();
    const cause = new Transient("connection reset");
    const call = failing(cause);
    const err = await policy.execute(call.fn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as DependencyUnavailableError).dependency).toBe("fake-db");
    expect((err as DependencyUnavailableError).cause).toBe(cause);
    expect(call.calls()).toBe(1);
  });

  it("retries an idempotent call on transient failures until it succeeds", async () => {
    const policy = policyWith();
    const call = failing(new Transient("reset"), new Contention("serialization failure"));
    await expect(policy.execute(call.fn, { idempotent: true })).resolves.toBe("ok");
    expect(call.calls()).toBe(3);
  });

  it("gives up after maxAttempts with the last transient error as the cause", async () => {
    const policy = policyWith({ breaker: { consecutiveFailures: 10, halfOpenAfterMs: 1_000 } });
    const last = new Transient("third");
    const call = failing(new Transient("first"), new Transient("second"), last);
    const err = await policy.execute(call.fn, { idempotent: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as Error).cause).toBe(last);
    expect(call.calls()).toBe(3);
  });

  it("propagates a non-transient error unchanged, without retrying", async () => {
    const policy = policyWith();
    const unique = new Permanent("duplicate key");
    const call = failing(unique);
    await expect(policy.execute(call.fn, { idempotent: true })).rejects.toBe(unique);
    expect(call.calls()).toBe(1);
  });
});

describe("circuit breaker", () => {
  it("opens after consecutive outage failures and then fails fast", async () => {
    const logger = recordingLogger();
    const policy = policyWith({ logger });
    const states: CircuitStateName[] = [];
    policy.onStateChange((state) => states.push(state));
    const outage = new Transient("connect ECONNREFUSED");
    for (let i = 0; i < 3; i++) {
      await expect(policy.execute(failing(outage).fn)).rejects.toBeInstanceOf(
        DependencyUnavailableError,
      );
    }
    expect(policy.state).toBe("open");
    expect(states).toEqual(["open"]);

    const call = failing();
    const err = await policy.execute(call.fn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect(call.calls()).toBe(0);
    // The cause chain ends at the failure that opened the circuit.
    expect(((err as Error).cause as Error).cause).toBe(outage);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", msg: "fake-db circuit opened: failing fast" }),
    );
  });

  it("stops retrying once the circuit opens", async () => {
    const policy = policyWith({
      retry: { maxAttempts: 10, initialDelayMs: 1, maxDelayMs: 1 },
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 1_000 },
    });
    const outage = new Transient("down");
    const call = failing(...Array.from({ length: 10 }, () => outage));
    await expect(policy.execute(call.fn, { idempotent: true })).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(call.calls()).toBe(2);
    expect(policy.state).toBe("open");
  });

  it("is not tripped by non-transient errors, which prove the dependency answers", async () => {
    const policy = policyWith();
    for (const err of [
      new Transient("a"),
      new Transient("b"),
      new Permanent("unique violation"),
      new Transient("c"),
      new Transient("d"),
    ]) {
      await expect(policy.execute(failing(err).fn)).rejects.toBeInstanceOf(Error);
    }
    expect(policy.state).toBe("closed");
  });

  it("retries contention errors without counting them as an outage", async () => {
    const policy = policyWith({ retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 1 } });
    const contention = new Contention("40001");
    const call = failing(contention, contention, contention, contention);
    await expect(policy.execute(call.fn, { idempotent: true })).resolves.toBe("ok");
    expect(call.calls()).toBe(5);
    expect(policy.state).toBe("closed");
  });

  it("lets one probe through after halfOpenAfterMs and closes when it succeeds", async () => {
    vi.useFakeTimers();
    const policy = policyWith();
    const states: CircuitStateName[] = [];
    policy.onStateChange((state) => states.push(state));
    for (let i = 0; i < 3; i++) {
      await policy.execute(failing(new Transient("down")).fn).catch(() => undefined);
    }
    vi.advanceTimersByTime(999);
    await expect(policy.execute(failing().fn)).rejects.toBeInstanceOf(DependencyUnavailableError);

    vi.advanceTimersByTime(1);
    await expect(policy.execute(failing().fn)).resolves.toBe("ok");
    expect(policy.state).toBe("closed");
    expect(states).toEqual(["open", "half-open", "closed"]);
  });

  it("opens again when the half-open probe fails", async () => {
    vi.useFakeTimers();
    const policy = policyWith();
    for (let i = 0; i < 3; i++) {
      await policy.execute(failing(new Transient("down")).fn).catch(() => undefined);
    }
    vi.advanceTimersByTime(1_000);
    await expect(policy.execute(failing(new Transient("still down")).fn)).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(policy.state).toBe("open");
    const call = failing();
    await expect(policy.execute(call.fn)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(call.calls()).toBe(0);
  });

  it("stops notifying a listener once it is removed", async () => {
    const policy = policyWith({ breaker: { consecutiveFailures: 1, halfOpenAfterMs: 1_000 } });
    const states: CircuitStateName[] = [];
    const remove = policy.onStateChange((state) => states.push(state));
    remove();
    await policy.execute(failing(new Transient("down")).fn).catch(() => undefined);
    expect(policy.state).toBe("open");
    expect(states).toEqual([]);
  });
});

describe("backoff", () => {
  it("waits exponentially growing delays, capped at maxDelayMs", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5); // pin the jitter
    const logger = recordingLogger();
    const policy = policyWith({
      logger,
      retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 300 },
      breaker: { consecutiveFailures: 10, halfOpenAfterMs: 1_000 },
    });
    const call = failing(...Array.from({ length: 4 }, () => new Transient("reset")));
    const result = policy.execute(call.fn, { idempotent: true });

    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      await vi.advanceTimersByTimeAsync(0);
      expect(call.calls()).toBe(attempt);
      const delay = logger.entries.at(-1)?.obj.delayMs as number;
      delays.push(delay);
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(call.calls()).toBe(attempt); // still waiting
      await vi.advanceTimersByTimeAsync(1);
    }
    await expect(result).resolves.toBe("ok");
    expect(call.calls()).toBe(5);
    expect(delays[0]).toBeGreaterThan(0);
    for (let i = 1; i < delays.length; i++) {
      expect(delays[i]).toBeGreaterThan(delays[i - 1] as number);
    }
    expect(delays.at(-1)).toBe(300);
  });

  it("stops waiting as soon as the signal aborts, without another attempt", async () => {
    vi.useFakeTimers();
    const policy = policyWith({
      retry: { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 1_000 },
    });
    const call = failing(new Transient("reset"), new Transient("reset"));
    const controller = new AbortController();
    const result = policy.execute(call.fn, { idempotent: true, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(0);
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
    expect(call.calls()).toBe(1);
  });

  it("does not start when the signal has already aborted", async () => {
    const policy = policyWith();
    const call = failing();
    await expect(policy.execute(call.fn, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(call.calls()).toBe(0);
  });
});

describe("options", () => {
  it.each([
    { retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 } },
    { retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 1 } },
    { breaker: { consecutiveFailures: 0, halfOpenAfterMs: 1 } },
    { breaker: { consecutiveFailures: 1, halfOpenAfterMs: -1 } },
  ])("rejects nonsensical settings: %o", (overrides) => {
    expect(() => policyWith(overrides)).toThrow(RangeError);
  });
});
