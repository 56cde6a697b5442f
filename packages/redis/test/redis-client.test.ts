import { DependencyUnavailableError } from "@kindred/errors";
import { HealthCheckError } from "@kindred/resilience";
import { closedPort, TcpProxy, testEnv, uniqueName } from "@kindred/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createRedisPolicy, RedisClient, type RedisConfig } from "../src/index.ts";
import { nextEvent, recordingLogger, watchUnhandled } from "./helpers.ts";

const keyPrefix = `${uniqueName("kt_redis")}:`;

function configFor(url: string, overrides: Partial<RedisConfig> = {}): RedisConfig {
  return { url, connectTimeoutMs: 1_000, commandTimeoutMs: 1_000, keyPrefix, ...overrides };
}

let unhandled: ReturnType<typeof watchUnhandled>;

beforeEach(() => {
  unhandled = watchUnhandled();
});

afterEach(() => {
  unhandled.stop();
  expect(unhandled.errors).toEqual([]);
});

describe("against the real server", () => {
  it("sets and gets values under the configured key prefix", async () => {
    await using client = RedisClient.create(configFor(testEnv.redisUrl), {
      logger: recordingLogger(),
    });
    await using raw = RedisClient.create(configFor(testEnv.redisUrl, { keyPrefix: undefined }), {
      logger: recordingLogger(),
    });
    await Promise.all([client.whenReady(), raw.whenReady()]);
    try {
      await client.execute((redis) => redis.set("greeting", "hello", "EX", 60));
      await expect(
        client.execute((redis) => redis.get("greeting"), { idempotent: true }),
      ).resolves.toBe("hello");
      await expect(raw.redis.get(`${keyPrefix}greeting`)).resolves.toBe("hello");
      await expect(raw.redis.get("greeting")).resolves.toBeNull();
    } finally {
      await client.redis.del("greeting");
    }
  });

  it("answers the health check and logs the connection", async () => {
    const logger = recordingLogger();
    await using client = RedisClient.create(configFor(testEnv.redisUrl), { logger });
    await client.whenReady();
    await expect(client.healthCheck()).resolves.toBeUndefined();
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "info", msg: "redis connected" }),
    );
  });

  it("propagates a non-transient error unchanged", async () => {
    await using client = RedisClient.create(configFor(testEnv.redisUrl), {
      logger: recordingLogger(),
    });
    await client.whenReady();
    try {
      await client.redis.set("a-string", "x", "EX", 60);
      const err = await client
        .execute((redis) => redis.lpush("a-string", "y"), { idempotent: true })
        .catch((e: unknown) => e);
      expect(err).not.toBeInstanceOf(DependencyUnavailableError);
      expect((err as Error).message).toMatch(/^WRONGTYPE/);
    } finally {
      await client.redis.del("a-string");
    }
  });

  it("quits gracefully and may be disposed twice", async () => {
    const logger = recordingLogger();
    const client = RedisClient.create(configFor(testEnv.redisUrl), { logger });
    await client.whenReady();
    const ended = nextEvent(client.redis, "end");
    await client[Symbol.asyncDispose]();
    await client[Symbol.asyncDispose]();
    await ended;
    expect(client.redis.status).toBe("end");
    expect(logger.entries.filter((e) => e.level === "warn")).toEqual([]);
  });
});

describe("when Redis is down", () => {
  it("is created without throwing, fails fast, opens the breaker and keeps reconnecting", async () => {
    const logger = recordingLogger();
    const policy = createRedisPolicy({
      logger,
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 },
    });
    const port = await closedPort();
    await using client = RedisClient.create(configFor(`redis://127.0.0.1:${port}`), {
      logger,
      policy,
    });
    await nextEvent(client.redis, "reconnecting");

    const err = await client.healthCheck().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HealthCheckError);
    expect((err as Error).message).toMatch(/^redis health check failed: .*ECONNREFUSED/);

    const work = vi.fn(async () => "never");
    await expect(client.execute(work, { idempotent: true })).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(policy.state).toBe("open");
    await expect(client.execute(work)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(work).not.toHaveBeenCalled();

    await nextEvent(client.redis, "reconnecting");
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "warn",
        msg: "redis connection attempt failed, reconnecting",
      }),
    );
  });

  it("recovers when Redis comes back, and survives it going away again", async () => {
    const logger = recordingLogger();
    // halfOpenAfterMs 0: the first call after a failure probes, so recovery needs no waiting.
    const policy = createRedisPolicy({
      logger,
      breaker: { consecutiveFailures: 1, halfOpenAfterMs: 0 },
    });
    await using proxy = await TcpProxy.create(testEnv.redisUrl);
    await using client = RedisClient.create(configFor(`redis://127.0.0.1:${proxy.port}`), {
      logger,
      policy,
    });
    await nextEvent(client.redis, "reconnecting");
    await expect(client.healthCheck()).rejects.toBeInstanceOf(HealthCheckError);
    expect(policy.state).toBe("open");

    await proxy.open();
    await client.whenReady();
    await expect(client.healthCheck()).resolves.toBeUndefined();
    expect(policy.state).toBe("closed");
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "info", msg: "redis connection restored" }),
    );

    const lost = nextEvent(client.redis, "close");
    await proxy.close();
    await lost;
    await expect(client.healthCheck()).rejects.toBeInstanceOf(HealthCheckError);
    await expect(client.execute((redis) => redis.get("k"))).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", msg: "redis connection lost, reconnecting" }),
    );

    await proxy.open();
    await client.whenReady();
    await expect(client.healthCheck()).resolves.toBeUndefined();
  });
});
