import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { DomainError } from "@kindred/errors";
import { authenticateBearer, bearerToken } from "./bearer.ts";
import { type Principal, signInFirstMessage } from "./principal.ts";
import type { AccessTokenVerifier } from "./verifier.ts";

/** Where the interceptor leaves the caller's principal; `undefined` for an anonymous call. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "kindred principal",
});

/**
 * A `DomainError` as a `ConnectError`, here rather than in the runtime's error mapping so the
 * interceptor gives the right code even in a server without it. The `DomainError` stays the
 * cause, for logs; only its safe message reaches the client.
 */
function toConnectError(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  const code = err.code === "unavailable" ? Code.Unavailable : Code.Unauthenticated;
  return new ConnectError(err.message, code, undefined, undefined, err);
}

/**
 * Authenticates every call that carries `Authorization: Bearer <token>` and lets the handler see
 * the principal. A call without the header passes through anonymous, so public methods work;
 * methods that need a user call `requirePrincipal`. A call with a bad token is refused here,
 * whatever the method: a client that sent a token expects it to count.
 */
export function authInterceptor(verifier: AccessTokenVerifier): Interceptor {
  return (next) => async (req) => {
    const header = req.header.get("authorization");
    if (bearerToken(header) !== undefined) {
      try {
        req.contextValues.set(
          principalKey,
          await authenticateBearer(header ?? undefined, verifier),
        );
      } catch (err) {
        throw toConnectError(err);
      }
    }
    return next(req);
  };
}

/** The caller's principal, or `undefined` for an anonymous call. */
export function principalOf(ctx: HandlerContext): Principal | undefined {
  return ctx.values.get(principalKey);
}

/** The caller's principal; an anonymous call is refused with `unauthenticated`. */
export function requirePrincipal(ctx: HandlerContext): Principal {
  const principal = principalOf(ctx);
  if (principal === undefined) throw new ConnectError(signInFirstMessage, Code.Unauthenticated);
  return principal;
}
