import type { HandlerContext } from "@connectrpc/connect";
import { currentLogContext } from "@kindred/logging";
import { clientAddressOf, requestIdHeader } from "@kindred/runtime";

/** Who made a request, as the audit log and sessions record it. */
export interface RequestMeta {
  ip: string;
  userAgent: string;
  requestId: string;
}

/** For work that no client request caused (operator commands, moderation events). */
export const systemRequest: RequestMeta = { ip: "", userAgent: "", requestId: "" };

export function requestMetaOf(ctx: HandlerContext): RequestMeta {
  return {
    ip: clientAddressOf(ctx).slice(0, 64),
    userAgent: (ctx.requestHeader.get("user-agent") ?? "").slice(0, 512),
    requestId: currentLogContext()?.requestId ?? ctx.requestHeader.get(requestIdHeader) ?? "",
  };
}
