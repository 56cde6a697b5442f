import { DependencyUnavailableError } from "@kindred/errors";
import { closedPort, testEnv } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { NatsClient } from "../src/index.ts";

const logger = { info() {}, warn() {}, error() {} };

describe("NatsClient", () => {
  it("connects in the background and answers a health check", async () => {
    await using client = new NatsClient(
      { servers: [testEnv.natsUrl], token: undefined, connectTimeoutMs: 2_000 },
      { name: "test", logger },
    );
    client.start();
    const connection = await client.connected();
    await client.healthCheck();
    const jsm = await client.jetstreamManager();
    expect((await jsm.getAccountInfo()).limits).toBeDefined();
    expect(connection.isClosed()).toBe(false);
  });

  it("fails fast with unavailable while NATS is down, and keeps retrying without throwing", async () => {
    const port = await closedPort();
    const warnings: object[] = [];
    await using client = new NatsClient(
      { servers: [`nats://127.0.0.1:${port}`], token: undefined, connectTimeoutMs: 500 },
      {
        name: "test",
        logger: { ...logger, warn: (o: object) => warnings.push(o) },
        initialRetryMs: 10,
        maxRetryMs: 20,
      },
    );
    client.start();
    expect(() => client.connection).toThrow(DependencyUnavailableError);
    await expect(client.healthCheck()).rejects.toThrow(/not connected to nats:\/\/127\.0\.0\.1/);
    const attempts = AbortSignal.timeout(5_000);
    while (warnings.length < 2 && !attempts.aborted) await new Promise((r) => setTimeout(r, 10));
    expect(warnings.length).toBeGreaterThanOrEqual(2);
  });

  it("stops retrying when disposed before it ever connected", async () => {
    const port = await closedPort();
    const client = new NatsClient(
      { servers: [`nats://127.0.0.1:${port}`], token: undefined, connectTimeoutMs: 500 },
      { name: "test", logger, initialRetryMs: 10, maxRetryMs: 20 },
    );
    client.start();
    await client[Symbol.asyncDispose]();
    await expect(client.connected()).rejects.toThrow(DependencyUnavailableError);
  });
});
