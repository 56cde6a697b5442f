import { type AddressInfo, createServer } from "node:net";
import { DependencyUnavailableError } from "@kindred/errors";
import { HealthCheckError } from "@kindred/resilience";
import { closedPort, createTestDatabase, type TestDatabase } from "@kindred/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createPostgresPolicy, Database } from "../src/index.ts";
import { configFor, recordingLogger } from "./helpers.ts";

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase("kt_health");
});

afterAll(async () => {
  await testDb?.drop();
});

describe("healthCheck", () => {
  it("resolves when the database answers", async () => {
    await using db = Database.create(configFor(testDb.url), { logger: recordingLogger() });
    await expect(db.healthCheck()).resolves.toBeUndefined();
  });

  it("rejects at once with the cause when nothing listens, then opens the breaker", async () => {
    const logger = recordingLogger();
    const policy = createPostgresPolicy({
      logger,
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 },
    });
    const port = await closedPort();
    await using db = Database.create(configFor(`postgres://postgres@127.0.0.1:${port}/absent`), {
      logger,
      policy,
    });

    const first = await db.healthCheck().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(HealthCheckError);
    expect((first as HealthCheckError).dependency).toBe("postgres");
    expect((first as Error).message).toMatch(/^postgres health check failed: .*ECONNREFUSED/);
    expect(policy.state).toBe("closed");

    await expect(db.healthCheck()).rejects.toBeInstanceOf(HealthCheckError);
    expect(policy.state).toBe("open");
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", msg: "postgres circuit opened: failing fast" }),
    );

    // While open, a probe fails fast and still says why.
    await expect(db.healthCheck()).rejects.toThrow(/ECONNREFUSED/);
    const work = vi.fn();
    const err = await db.transaction(work, { idempotent: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as DependencyUnavailableError).dependency).toBe("postgres");
    expect(work).not.toHaveBeenCalled();
  });

  it("reports a server that accepts connections but never answers", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const policy = createPostgresPolicy({ breaker: { consecutiveFailures: 1 } });
      await using db = Database.create(
        configFor(`postgres://postgres@127.0.0.1:${port}/silent`, { connectTimeoutMs: 200 }),
        { logger: recordingLogger(), policy },
      );
      const err = await db.healthCheck().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HealthCheckError);
      expect((err as Error).message).toMatch(/did not answer within 200 ms|timeout/);
      expect(policy.state).toBe("open");
    } finally {
      silent.close();
    }
  });

  it("stops when the caller's signal aborts, without blaming the database", async () => {
    const policy = createPostgresPolicy({ breaker: { consecutiveFailures: 1 } });
    await using db = Database.create(configFor(testDb.url), { logger: recordingLogger(), policy });
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    const err = await db.healthCheck(controller.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HealthCheckError);
    expect((err as Error).message).toBe("postgres health check failed: shutting down");
    // The caller gave up; that says nothing about the database.
    expect(policy.state).toBe("closed");
  });
});
