import { Writable } from "node:stream";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DependencyUnavailableError, DomainError } from "@kindred/errors";
import { createLogger } from "@kindred/logging";
import { createServiceMetrics } from "@kindred/telemetry";
import { afterEach, describe, expect, it } from "vitest";
import { type HealthCheck, ServiceHost } from "../src/index.ts";
import { TestService } from "./fixtures/test-service.ts";

const lines: Record<string, unknown>[] = [];
const destination = new Writable({
  write(chunk, _enc, cb) {
    for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
    cb();
  },
});

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
  lines.length = 0;
});

type Call = (req: unknown, opts?: unknown) => Promise<{ value: string }>;

const value = (v: string) => ({ $typeName: StringValueSchema.typeName, value: v });

async function startHost(options: { checks?: HealthCheck[] } = {}) {
  const host = new ServiceHost({
    settings: { name: "test", host: "127.0.0.1", port: 0, healthPort: 0, shutdownTimeoutMs: 2_000 },
    logger: createLogger({ service: "test", level: "debug", destination }),
    metrics: createServiceMetrics("test"),
    checks: options.checks ?? [],
    readinessCacheMs: 0,
    routes: (router) =>
      router.service(TestService, {
        echo: (req: { value: string }) => value(`echo ${req.value}`),
        fail: (req: { value: string }) => {
          switch (req.value) {
            case "domain":
              throw new DomainError("not_found", "circle not found", {
                cause: new Error("row 42 gone"),
              });
            case "unavailable":
              throw new DependencyUnavailableError("postgres", {
                cause: new Error("ECONNREFUSED 10.0.0.7"),
              });
            case "connect":
              throw new ConnectError("page_size must be at most 100", Code.InvalidArgument);
            default:
              throw new Error("password=hunter2 at db.ts:12");
          }
        },
      } as never),
  });
  hosts.push(host);
  await host.start();
  const client = createClient(
    TestService,
    createConnectTransport({ baseUrl: host.url, httpVersion: "1.1" }),
  ) as unknown as Record<"echo" | "fail" | "missing", Call>;
  return { host, client };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

describe("ServiceHost", () => {
  it("serves Connect with a request id it returns and logs", async () => {
    const { client } = await startHost();
    let responseId: string | null = null;
    const res = await client.echo(value("hi"), {
      headers: { "x-request-id": "req-abc", "x-correlation-id": "corr-1" },
      onHeader: (h: Headers) => {
        responseId = h.get("x-request-id");
      },
    });
    expect(res.value).toBe("echo hi");
    expect(responseId).toBe("req-abc");
  });

  it("answers unimplemented for a method the service does not implement yet", async () => {
    const { client } = await startHost();
    const err = await rejection(client.missing(value("x")));
    expect(err.code).toBe(Code.Unimplemented);
  });

  it("maps a domain error to its Connect code with its safe message only", async () => {
    const { client } = await startHost();
    const err = await rejection(client.fail(value("domain")));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("circle not found");
    expect(JSON.stringify(err)).not.toContain("row 42");
  });

  it("maps a dependency outage to unavailable without naming the host", async () => {
    const { client } = await startHost();
    const err = await rejection(client.fail(value("unavailable")));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("the service is temporarily unavailable, retry later");
  });

  it("passes deliberate Connect errors through", async () => {
    const { client } = await startHost();
    const err = await rejection(client.fail(value("connect")));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("page_size must be at most 100");
  });

  it("turns an unexpected error into internal with the request id, logging the cause", async () => {
    const { client } = await startHost();
    const err = await rejection(
      client.fail(value("boom"), { headers: { "x-request-id": "req-boom" } }),
    );
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("internal error (request id req-boom)");
    expect(err.rawMessage).not.toContain("hunter2");
    const logged = lines.find((l) => l.msg === "unexpected error");
    expect(logged).toMatchObject({ requestId: "req-boom", level: "error" });
    expect(JSON.stringify(logged)).toContain("password=hunter2");
  });

  it("generates a request id when the caller sends none or a malformed one", async () => {
    const { client } = await startHost();
    const err = await rejection(
      client.fail(value("boom"), { headers: { "x-request-id": "bad id\twith spaces" } }),
    );
    expect(err.rawMessage).toMatch(
      /^internal error \(request id [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)$/,
    );
  });

  it("serves livez, readyz naming the failing dependency, and RED metrics", async () => {
    let healthy = false;
    const { host, client } = await startHost({
      checks: [
        {
          name: "postgres",
          check: async () => {
            if (!healthy) throw new Error("connect ECONNREFUSED 127.0.0.1:1");
          },
        },
      ],
    });
    expect((await fetch(`${host.healthUrl}/livez`)).status).toBe(200);
    const down = await fetch(`${host.healthUrl}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      status: "unavailable",
      checks: { postgres: { status: "down", error: "connect ECONNREFUSED 127.0.0.1:1" } },
    });
    healthy = true;
    const up = await fetch(`${host.url}/readyz`);
    expect(up.status).toBe(200);
    await client.echo(value("x"));
    const metrics = await (await fetch(`${host.healthUrl}/metrics`)).text();
    expect(metrics).toContain(
      'kindred_rpc_server_requests_total{procedure="/kindred.test.v1.TestService/Echo",code="ok",service="test"} 1',
    );
    expect(metrics).toContain('kindred_dependency_up{dependency="postgres",service="test"} 1');
  });

  it("reports not ready while draining, then stops both ports", async () => {
    const { host } = await startHost();
    const url = host.healthUrl;
    await host.stop();
    await expect(fetch(`${url}/livez`)).rejects.toThrow();
  });
});
