import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { createServiceMetrics, startTracing } from "../src/index.ts";

describe("createServiceMetrics", () => {
  it("exposes default process metrics and RED metrics labelled with the service", async () => {
    const metrics = createServiceMetrics("circles");
    metrics.rpcRequests.inc({
      procedure: "/kindred.circles.v1.CircleService/GetCircle",
      code: "ok",
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain(
      'kindred_rpc_server_requests_total{procedure="/kindred.circles.v1.CircleService/GetCircle",code="ok",service="circles"} 1',
    );
  });

  it("keeps services' registries apart", async () => {
    const a = createServiceMetrics("a");
    const b = createServiceMetrics("b");
    a.dependencyUp.set({ dependency: "postgres" }, 1);
    expect(await b.registry.metrics()).not.toContain('dependency="postgres"');
  });
});

describe("startTracing", () => {
  it("is off without an endpoint", async () => {
    await using tracing = startTracing({ service: "identity", endpoint: undefined });
    expect(tracing.enabled).toBe(false);
  });

  it("exports spans by OTLP/HTTP to the configured endpoint", async () => {
    const requests: { url: string | undefined; body: Buffer }[] = [];
    const receiver = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      requests.push({ url: req.url, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
    const { port } = receiver.address() as { port: number };
    try {
      {
        await using _tracing = startTracing({
          service: "identity",
          endpoint: `http://127.0.0.1:${port}`,
        });
        trace.getTracer("test").startActiveSpan("register-user", (span) => span.end());
      }
      expect(requests).toHaveLength(1);
      expect(requests[0]?.url).toBe("/v1/traces");
      const body = requests[0]?.body.toString("latin1") ?? "";
      expect(body).toContain("register-user");
      expect(body).toContain("kindred-identity");
    } finally {
      receiver.close();
    }
  });
});
