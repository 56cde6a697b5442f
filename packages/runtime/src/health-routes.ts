import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServiceMetrics } from "@kindred/telemetry";
import type { Readiness } from "./readiness.ts";

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Serves `/livez` (the process runs), `/readyz` (it may get traffic; 503 names the dependency
 * that is down) and, where `metrics` is given, `/metrics`. Returns false for any other path.
 */
export function handleHealthRequest(
  req: IncomingMessage,
  res: ServerResponse,
  readiness: Readiness,
  metrics?: ServiceMetrics,
): boolean {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  if (path === "/livez") {
    json(res, 200, { status: "ok" });
    return true;
  }
  if (path === "/readyz") {
    void readiness.report().then(
      (report) =>
        json(res, report.ready ? 200 : 503, {
          status: report.ready ? "ready" : "unavailable",
          ...report,
        }),
      (err: unknown) => json(res, 503, { status: "unavailable", error: String(err) }),
    );
    return true;
  }
  if (path === "/metrics" && metrics !== undefined) {
    void metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(text);
      },
      () => json(res, 500, { status: "error" }),
    );
    return true;
  }
  return false;
}
