import { isNetworkErrorCode } from "@kindred/resilience";

/**
 * Which PostgreSQL failures are worth another try, and which of those mean the server is
 * unreachable (for the circuit breaker). Everything else (constraint violations, syntax errors,
 * statement timeouts) is the caller's problem and propagates unchanged.
 */

/** SQLSTATEs that say the attempt was rolled back because of other transactions: retry. */
const contentionCodes = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

/** SQLSTATEs that say the server or the connection is going away. */
const outageCodes = new Set([
  "57P01", // admin_shutdown (also pg_terminate_backend)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, in recovery)
  "53300", // too_many_connections
]);

/** Errors pg and pg-pool raise without a code when a connection dies or cannot be had. */
const connectionMessages = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
];

/** True when the server or the connection to it failed: counts towards the circuit breaker. */
export function isPostgresOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof AggregateError && err.errors.some(isPostgresOutage)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (outageCodes.has(code) || isNetworkErrorCode(code)) return true;
    if (code.startsWith("08")) return true; // class 08: connection exception
  }
  return connectionMessages.some((message) => err.message.startsWith(message));
}

/** True when running the same work again may succeed: an outage, or lost contention. */
export function isTransientPostgresError(err: unknown): boolean {
  if (isPostgresOutage(err)) return true;
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" && contentionCodes.has(code);
}
