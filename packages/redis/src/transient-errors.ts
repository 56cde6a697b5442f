import { isNetworkErrorCode } from "@kindred/resilience";
/**
 * Which Redis failures are worth another try: the connection is down or going down, or the
 * server is temporarily unable to serve (loading, failover). For Redis these are also exactly
 * the failures that count towards the circuit breaker. Everything else (WRONGTYPE, a script
 * error) propagates unchanged.
 */

/** The client is not connected right now; `cause` is the last connection error. */
export class RedisNotConnectedError extends Error {
  override readonly name = "RedisNotConnectedError";

  constructor(status: string, cause: unknown) {
    super(`redis is not connected (${status})`, { cause });
  }
}

/** Messages ioredis rejects commands with when the connection is unusable. */
const clientMessages = [
  "Connection is closed.",
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Command timed out",
  "Command aborted due to connection close",
  "Socket timeout",
  "connect ETIMEDOUT",
];

/** Error replies of a server that will serve again shortly. */
const serverReplyPrefixes = [
  "LOADING",
  "BUSY ",
  "TRYAGAIN",
  "CLUSTERDOWN",
  "MASTERDOWN",
  "READONLY",
];

export function isTransientRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof RedisNotConnectedError) return true;
  if (err instanceof AggregateError && err.errors.some(isTransientRedisError)) return true;
  if (err.name === "MaxRetriesPerRequestError") return true;
  const code = (err as { code?: unknown }).code;
  if (isNetworkErrorCode(code)) return true;
  return (
    clientMessages.some((message) => err.message.startsWith(message)) ||
    serverReplyPrefixes.some((prefix) => err.message.startsWith(prefix))
  );
}
