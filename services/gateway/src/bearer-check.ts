import type { IncomingMessage } from "node:http";
import {
  type AccessTokenVerifier,
  authenticateBearer,
  bearerRefusal,
  bearerToken,
} from "@kindred/auth";
import type { Logger } from "@kindred/logging";

/** What the gateway answers instead of forwarding a request. */
export interface Refusal {
  status: number;
  code: string;
  /** Safe for the client. */
  message: string;
  headers: Record<string, string>;
}

/**
 * Checks the bearer token of a request the gateway is about to forward, RPC or WebSocket
 * upgrade: `undefined` when it may go on, or what to answer instead. A request without an
 * `Authorization` header goes on (public methods such as Register; the service decides). One
 * with a token that is bad, expired, forged or of a revoked session is refused here and never
 * reaches a service — which would refuse it too: every service verifies tokens itself.
 */
export async function checkBearer(
  req: IncomingMessage,
  verifier: AccessTokenVerifier,
  logger: Logger,
  context: { requestId: string; path: string },
): Promise<Refusal | undefined> {
  const header = req.headers.authorization;
  if (bearerToken(header) === undefined) return undefined;
  try {
    await authenticateBearer(header, verifier);
    return undefined;
  } catch (err) {
    const refusal = bearerRefusal(err);
    if (refusal === undefined) {
      logger.error({ err, ...context }, "token verification failed");
      return {
        status: 500,
        code: "internal",
        message: "the gateway failed; retry later",
        headers: {},
      };
    }
    // The token itself is never logged; the cause says why (expired, unknown key, revoked…).
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
    const details = {
      ...context,
      status: refusal.status,
      reason: cause?.message,
      kind: cause?.name,
    };
    if (refusal.status === 401) logger.info(details, "token refused at the gateway");
    else logger.warn(details, "cannot verify tokens now: the keys cannot be fetched");
    return {
      ...refusal,
      headers: refusal.status === 401 ? { "www-authenticate": 'Bearer error="invalid_token"' } : {},
    };
  }
}
