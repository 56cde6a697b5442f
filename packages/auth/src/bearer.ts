import { DomainError } from "@kindred/errors";
import { invalidTokenMessage, type Principal, signInFirstMessage } from "./principal.ts";
import type { AccessTokenVerifier } from "./verifier.ts";

/** The auth scheme is case-insensitive (RFC 9110 §11.1); the token itself is not. */
const bearerPattern = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The token of an `Authorization` header: `undefined` when there is none, `null` when the
 * header is there but is not a bearer token (which must not count as "not signed in").
 */
export function bearerToken(
  authorizationHeader: string | null | undefined,
): string | undefined | null {
  if (authorizationHeader === undefined || authorizationHeader === null) return undefined;
  if (authorizationHeader.trim() === "") return undefined;
  return bearerPattern.exec(authorizationHeader)?.[1] ?? null;
}

/**
 * Authenticates a request that is not a Connect call, such as a WebSocket upgrade: the
 * principal, or the same `DomainError`s as `verify` (the caller answers 401, or 503 for
 * `DependencyUnavailableError`).
 */
export async function authenticateBearer(
  authorizationHeader: string | undefined,
  verifier: AccessTokenVerifier,
): Promise<Principal> {
  const token = bearerToken(authorizationHeader);
  if (token === undefined) throw new DomainError("unauthenticated", signInFirstMessage);
  if (token === null) {
    throw new DomainError("unauthenticated", invalidTokenMessage, {
      cause: new Error("the Authorization header is not a bearer token"),
    });
  }
  return verifier.verify(token);
}

/** How an HTTP edge that is not a Connect server (the gateway, an upgrade) refuses a token. */
export interface BearerRefusal {
  /** 401, or 503 when the keys could not be fetched (the client should retry, not sign in). */
  status: 401 | 503;
  code: "unauthenticated" | "unavailable";
  /** The client-safe message; why exactly stays in the error's cause, for logs. */
  message: string;
}

/**
 * The answer to a failure of `authenticateBearer` (or `verify`), or `undefined` for an error
 * that is not one of its refusals (a bug), which the caller answers as an internal error.
 */
export function bearerRefusal(err: unknown): BearerRefusal | undefined {
  if (!(err instanceof DomainError)) return undefined;
  return err.code === "unavailable"
    ? { status: 503, code: "unavailable", message: err.message }
    : { status: 401, code: "unauthenticated", message: err.message };
}
