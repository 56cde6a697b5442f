import { Agent, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AccessTokenVerifier } from "@kindred/auth";
import type { Logger } from "@kindred/logging";
import { correlationIdHeader, type RequestHandler, requestIdHeader } from "@kindred/runtime";
import { checkBearer } from "./bearer-check.ts";
import { type Forwarding, forwardingOf, hopByHop } from "./forwarding.ts";
import { sendBody } from "./request-body.ts";

export interface ProxyOptions {
  /** `kindred.identity.v1.AuthService` → `identity`. */
  routes: ReadonlyMap<string, string>;
  /** `identity` → `http://127.0.0.1:8081`. */
  upstreams: ReadonlyMap<string, string>;
  logger: Logger;
  /** A caller's deadline is capped to this; calls without one get it. */
  maxTimeoutMs: number;
  /** Checks the bearer token of each call before it is forwarded. */
  verifier: AccessTokenVerifier;
}

/** A Connect-protocol error body (the unary JSON form, which every Connect client reads). */
function connectError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ code, message });
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Why an upstream exchange was cut: it outlived the caller's deadline. */
const deadlinePassed = () => new DOMException("upstream deadline exceeded", "TimeoutError");

/** The capped deadline in ms from `connect-timeout-ms` (Connect) or the default. */
function deadlineOf(req: IncomingMessage, maxMs: number): number {
  const asked = Number(req.headers["connect-timeout-ms"]);
  return Number.isFinite(asked) && asked > 0 ? Math.min(asked, maxMs) : maxMs;
}

/**
 * Forwards each RPC to the service that owns it, streaming both ways, with the caller's
 * deadline (capped), a request id and a correlation id. An unknown service is `not_found`
 * here; a call with a bearer token that does not verify is `unauthenticated` (or `unavailable`
 * when the keys cannot be fetched) and is not forwarded; an owner that cannot be reached is
 * `unavailable`, and its address never reaches the client.
 */
export function createProxy(options: ProxyOptions): RequestHandler {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const service = path.split("/")[1] ?? "";
    const owner = options.routes.get(service);
    const base = owner === undefined ? undefined : options.upstreams.get(owner);
    if (owner === undefined || base === undefined) {
      connectError(res, 404, "not_found", `no such service: ${service || path}`);
      return;
    }
    const forwarding = forwardingOf(req);
    const { requestId } = forwarding;
    // The caller's deadline runs from now: checking the token counts against it.
    const deadline = Date.now() + deadlineOf(req, options.maxTimeoutMs);
    void checkBearer(req, options.verifier, options.logger, { requestId, path })
      .then((refusal) => {
        if (refusal !== undefined) {
          connectError(res, refusal.status, refusal.code, refusal.message, {
            ...refusal.headers,
            [requestIdHeader]: requestId,
          });
        } else if (!res.destroyed) {
          // (Unless the caller went away while the token was checked.)
          forward(req, res, { owner, base, path, forwarding, deadline });
        }
      })
      .catch((err: unknown) => {
        options.logger.error({ err, requestId, path }, "forwarding failed");
        connectError(res, 500, "internal", "the gateway failed; retry later");
      });
  };

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: { owner: string; base: string; path: string; forwarding: Forwarding; deadline: number },
  ): void {
    const { owner, base, path } = target;
    const { requestId, correlationId, forwardedFor } = target.forwarding;
    const timeoutMs = target.deadline - Date.now();
    if (timeoutMs <= 0) {
      connectError(res, 504, "deadline_exceeded", "the request took too long");
      return;
    }

    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
    }
    headers[requestIdHeader] = requestId;
    headers[correlationIdHeader] = correlationId;
    headers["connect-timeout-ms"] = String(timeoutMs);
    headers["x-forwarded-for"] = forwardedFor;

    const url = new URL(req.url ?? "/", base);
    const upstream = request(url, { method: req.method, headers, agent });
    // The exchange ends by the deadline, plus a second for the answer to arrive. A timer that
    // goes when the exchange does: an `AbortSignal.timeout` would stay armed (and fire) for
    // the whole deadline after every call, and costs a stream listener besides.
    const timer = setTimeout(() => upstream.destroy(deadlinePassed()), timeoutMs + 1_000);
    upstream.once("close", () => clearTimeout(timer));
    upstream.on("response", (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !hopByHop.has(name)) out[name] = value;
      }
      out[requestIdHeader] = requestId;
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    upstream.on("error", (err) => {
      const timedOut = err.name === "TimeoutError";
      options.logger.warn(
        { err, upstream: owner, requestId, correlationId, path },
        timedOut ? "upstream deadline exceeded" : "upstream unreachable",
      );
      if (timedOut) connectError(res, 504, "deadline_exceeded", "the request took too long");
      else
        connectError(res, 503, "unavailable", `the ${owner} service is unavailable, retry later`);
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    sendBody(req, upstream);
  }
}
