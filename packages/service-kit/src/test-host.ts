import type { DescService } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { ServiceHost } from "@kindred/runtime";

/**
 * Environment for a service under test: ports picked by the OS, quiet logs, and — when given —
 * a per-test database on the shared server.
 */
export function testServiceEnv(
  options: { database?: { serverUrl: string; name: string }; extra?: Record<string, string> } = {},
): Record<string, string> {
  return {
    KINDRED_ENV: "test",
    PORT: "0",
    GATEWAY_PORT: "0",
    HEALTH_PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    SHUTDOWN_TIMEOUT_MS: "5000",
    ...(process.env.DATABASE_URL === undefined ? {} : { DATABASE_URL: process.env.DATABASE_URL }),
    ...(process.env.REDIS_URL === undefined ? {} : { REDIS_URL: process.env.REDIS_URL }),
    ...(process.env.NATS_URL === undefined ? {} : { NATS_URL: process.env.NATS_URL }),
    ...(options.database === undefined
      ? {}
      : { DATABASE_URL: options.database.serverUrl, DATABASE_NAME: options.database.name }),
    ...options.extra,
  };
}

/** Starts a host and resolves once its `/readyz` answers 200 (its dependencies answered). */
export async function startReady(host: ServiceHost, timeoutMs = 20_000): Promise<ServiceHost> {
  await host.start();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await host.readiness.report();
    if (report.ready) return host;
    if (Date.now() > deadline) {
      await host.stop();
      throw new Error(`not ready after ${timeoutMs} ms: ${JSON.stringify(report.checks)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A Connect client for a service served by `host` (HTTP/1.1, as the gateway forwards). */
export function clientFor<S extends DescService>(service: S, host: ServiceHost): Client<S> {
  return createClient(service, createConnectTransport({ baseUrl: host.url, httpVersion: "1.1" }));
}

/** The `ConnectError` a call failed with; fails the test when the call succeeds. */
export async function connectErrorOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail with a ConnectError");
}
