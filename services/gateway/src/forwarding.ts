import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { acceptId, correlationIdHeader, requestIdHeader } from "@kindred/runtime";

/** Headers that describe one connection, not the request (RFC 9110 §7.6.1): never forwarded. */
export const hopByHop: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-authenticate",
]);

export interface Forwarding {
  requestId: string;
  correlationId: string;
  /** The caller's X-Forwarded-For with the peer's address appended. */
  forwardedFor: string;
}

/**
 * What the gateway adds to every request it forwards, RPC or WebSocket upgrade: the caller's
 * well-formed request and correlation ids (or new ones) and X-Forwarded-For.
 */
export function forwardingOf(req: IncomingMessage): Forwarding {
  const requestId = acceptId(req.headers[requestIdHeader] as string | undefined) ?? randomUUID();
  const correlationId =
    acceptId(req.headers[correlationIdHeader] as string | undefined) ?? requestId;
  const forwardedFor = [req.headers["x-forwarded-for"], req.socket.remoteAddress]
    .filter(Boolean)
    .join(", ");
  return { requestId, correlationId, forwardedFor };
}

/** Headers the gateway replaces with its own values (`forwardingOf`). */
export const replacedHeaders: ReadonlySet<string> = new Set([
  "x-forwarded-for",
  requestIdHeader,
  correlationIdHeader,
]);
