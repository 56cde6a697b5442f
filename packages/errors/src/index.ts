/**
 * Errors that the domain layer throws and the transport edge translates. The domain never
 * imports Connect: each error names a transport-neutral code, and the runtime's error-mapping
 * interceptor turns it into the matching Connect code with the (client-safe) message.
 */

/** The codes a domain error may carry; each maps one-to-one onto a Connect code. */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "failed_precondition"
  | "aborted"
  | "resource_exhausted"
  | "unavailable"
  | "deadline_exceeded"
  | "unimplemented";

export interface DomainErrorOptions {
  /** Machine-readable reason, stable across releases (e.g. `CIRCLE_FULL`). */
  reason?: string;
  /** The internal cause: logged, never sent to a client. */
  cause?: unknown;
}

/**
 * An expected failure with a message that is safe to show a client. Put internals in `cause`,
 * never in `message`.
 */
export class DomainError extends Error {
  override readonly name: string = "DomainError";
  readonly code: ErrorCode;
  readonly reason: string | undefined;

  constructor(code: ErrorCode, safeMessage: string, options: DomainErrorOptions = {}) {
    super(safeMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = options.reason;
  }
}

/**
 * A dependency (PostgreSQL, Redis, NATS, another service) cannot serve the request right now:
 * down, or its circuit breaker is open. Clients see `unavailable` and may retry.
 */
export class DependencyUnavailableError extends DomainError {
  override readonly name = "DependencyUnavailableError";
  readonly dependency: string;

  constructor(dependency: string, options: { cause?: unknown } = {}) {
    super("unavailable", "the service is temporarily unavailable, retry later", {
      reason: "DEPENDENCY_UNAVAILABLE",
      cause: options.cause,
    });
    this.dependency = dependency;
  }
}

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
