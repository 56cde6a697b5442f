import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "./interceptor.ts";
import type { Principal } from "./principal.ts";

/** Platform roles as identity puts them in a token's `roles` claim. */
export const roleNames = ["member", "moderator", "admin"] as const;
export type RoleName = (typeof roleNames)[number];

/** Whether the caller's token grants `role`; `false` for an anonymous caller. */
export function hasRole(principal: Principal | undefined, role: RoleName): boolean {
  return principal?.roles.includes(role) ?? false;
}

/** The client's message when its token lacks every role a call accepts. Names roles only. */
export function missingRoleMessage(roles: readonly RoleName[]): string {
  const names = roles.map((r) => `"${r}"`);
  const wanted =
    names.length === 1 ? `the ${names[0]} role` : `one of the roles ${names.join(", ")}`;
  return `this call needs ${wanted}`;
}

/**
 * The caller's principal when its token holds at least one of the roles named. An anonymous
 * call is refused with `unauthenticated` (as `requirePrincipal`), a signed-in caller without any
 * of them with `permission_denied`. Roles come from the token, so a role removed takes effect
 * when the caller's current token expires; a method that cannot wait checks the owner's records
 * too.
 */
export function requireRole(ctx: HandlerContext, role: RoleName, ...more: RoleName[]): Principal {
  const principal = requirePrincipal(ctx);
  const accepted = [role, ...more];
  if (accepted.some((r) => hasRole(principal, r))) return principal;
  throw new ConnectError(missingRoleMessage(accepted), Code.PermissionDenied);
}
