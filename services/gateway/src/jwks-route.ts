import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@kindred/logging";
import { requestIdHeader } from "@kindred/runtime";
import { jwksPath } from "./config.ts";
import { forwardingOf } from "./forwarding.ts";

/** Headers of identity's answer that the client sees: what the keys are and how long to keep them. */
const passedHeaders = ["content-type", "cache-control"] as const;

export interface JwksRouteOptions {
  /** Identity's base URL (`IDENTITY_URL`). */
  identityUrl: string;
  logger: Logger;
  /** How long identity has to answer. */
  timeoutMs?: number;
}

/** Whether a request is for the public key set (`GET` or `HEAD /.well-known/jwks.json`). */
export function isJwksRequest(req: IncomingMessage): boolean {
  const path = (req.url ?? "/").split("?")[0];
  return path === jwksPath && (req.method === "GET" || req.method === "HEAD");
}

/**
 * `GET /.well-known/jwks.json`, served from identity: the public keys access tokens are signed
 * with, for clients and third parties that verify tokens. Identity's status, body,
 * `content-type` and `cache-control` pass through; when identity cannot be reached the answer
 * is 503 with a JSON error, never a stale or empty key set.
 */
export function createJwksRoute(options: JwksRouteOptions) {
  const url = new URL(jwksPath, options.identityUrl);
  const timeoutMs = options.timeoutMs ?? 5_000;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { requestId } = forwardingOf(req);
    let status: number;
    let headers: Record<string, string>;
    let body: Buffer;
    try {
      const answer = await fetch(url, {
        headers: { [requestIdHeader]: requestId, accept: "application/json" },
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = answer.status;
      body = Buffer.from(await answer.arrayBuffer());
      headers = {};
      for (const name of passedHeaders) {
        const value = answer.headers.get(name);
        if (value !== null) headers[name] = value;
      }
    } catch (err) {
      options.logger.warn({ err, requestId }, "identity unreachable for the JWKS");
      status = 503;
      body = Buffer.from(
        JSON.stringify({ code: "unavailable", message: "the keys are unavailable, retry later" }),
      );
      headers = { "content-type": "application/json", "cache-control": "no-store" };
    }
    if (res.destroyed) return;
    res.writeHead(status, {
      ...headers,
      "content-length": body.length,
      [requestIdHeader]: requestId,
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}
