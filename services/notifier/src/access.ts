import type { HandlerContext } from "@connectrpc/connect";
import { invalidTokenMessage, requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The signed-in caller's user id. Every NotifierService method is about the caller's own
 * devices and preferences; identity's user ids are UUIDs, and anything else is not its token.
 */
export function callerOf(ctx: HandlerContext): string {
  const principal = requirePrincipal(ctx);
  if (!uuidPattern.test(principal.userId)) {
    throw new DomainError("unauthenticated", invalidTokenMessage);
  }
  return principal.userId.toLowerCase();
}
