import { randomUUID } from "node:crypto";
import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { withLogContext } from "@kindred/logging";

export const requestIdHeader = "x-request-id";
export const correlationIdHeader = "x-correlation-id";

const safeId = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's id when it is well-formed, else a fresh one: ids end up in logs and headers. */
export function acceptId(value: string | null | undefined): string | undefined {
  return value !== null && value !== undefined && safeId.test(value) ? value : undefined;
}

/**
 * Gives every RPC a request id (the caller's `x-request-id`, or a new one) and a correlation id
 * (the caller's `x-correlation-id`, or the request id), returns the request id in the response
 * header, and attaches both to every log line written while handling the call.
 */
export function requestContextInterceptor(): Interceptor {
  return (next) => async (req) => {
    const requestId = acceptId(req.header.get(requestIdHeader)) ?? randomUUID();
    const correlationId = acceptId(req.header.get(correlationIdHeader)) ?? requestId;
    req.header.set(requestIdHeader, requestId);
    req.header.set(correlationIdHeader, correlationId);
    return withLogContext({ requestId, correlationId }, async () => {
      const res = await next(req);
      res.header.set(requestIdHeader, requestId);
      return res;
    });
  };
}

/** The address of the TCP peer of an RPC (the gateway, for calls that came through it). */
export const peerAddressKey = createContextKey<string>("", { description: "peer address" });

/**
 * The client's IP address as the edge saw it: the last `X-Forwarded-For` entry (the one the
 * gateway appended; earlier entries are whatever the client claimed), else the TCP peer.
 * Services are reachable only through the gateway, so the header is the gateway's word.
 */
export function clientAddressOf(ctx: HandlerContext): string {
  const forwarded = ctx.requestHeader.get("x-forwarded-for");
  const last = forwarded?.split(",").at(-1)?.trim();
  return last !== undefined && last !== "" ? last : ctx.values.get(peerAddressKey);
}
