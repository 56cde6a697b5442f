import { describe, expect, it } from "vitest";
import { Readiness } from "../src/index.ts";

describe("Readiness", () => {
  it("is ready while a non-critical check fails, reporting it with its details", async () => {
    const readiness = new Readiness(
      [
        { name: "postgres", check: async () => {} },
        {
          name: "nats",
          critical: false,
          check: async () => {
            throw new Error("not connected to nats://127.0.0.1:4222");
          },
        },
        { name: "outbox", critical: false, check: async () => ({ role: "leader", count: 3 }) },
      ],
      { cacheMs: 0 },
    );
    expect((await readiness.report()).ready).toBe(false); // still starting
    readiness.serving();
    expect(await readiness.report()).toEqual({
      ready: true,
      phase: "serving",
      checks: {
        postgres: { status: "up" },
        nats: { status: "down", critical: false, error: "not connected to nats://127.0.0.1:4222" },
        outbox: { status: "up", critical: false, details: { role: "leader", count: 3 } },
      },
    });
    readiness.draining();
    expect((await readiness.report()).ready).toBe(false);
  });

  it("is not ready while a critical check fails or does not answer in time", async () => {
    const readiness = new Readiness([{ name: "redis", check: () => new Promise(() => {}) }], {
      cacheMs: 0,
      timeoutMs: 50,
    });
    readiness.serving();
    expect(await readiness.report()).toMatchObject({
      ready: false,
      checks: { redis: { status: "down", error: "no answer within 50 ms" } },
    });
  });
});
