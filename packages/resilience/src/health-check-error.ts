/**
 * A failed readiness probe. Unlike `DependencyUnavailableError`, whose message is client-safe
 * and generic, this one names the dependency and the root cause, because it goes to `/readyz`
 * and the operator's logs, never to a client.
 */
export class HealthCheckError extends Error {
  override readonly name = "HealthCheckError";
  readonly dependency: string;

  constructor(dependency: string, cause: unknown) {
    super(`${dependency} health check failed: ${rootCauseMessage(cause)}`, { cause });
    this.dependency = dependency;
  }
}

/**
 * The message of the innermost error in a `cause` chain: wrappers (circuit open, dependency
 * unavailable) say little, the innermost error ("connect ECONNREFUSED 127.0.0.1:6390") says why.
 */
export function rootCauseMessage(err: unknown): string {
  let message = describe(err);
  let current = err;
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    const text = describe(current);
    if (text !== "") message = text;
    current = current.cause;
  }
  return message === "" ? "unknown error" : message;
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.message === "") {
    // Node's dual-stack connect rejects with an AggregateError without a message.
    return err.errors.map(describe).filter(Boolean).join("; ");
  }
  if (err instanceof Error) return err.message;
  return err === undefined ? "" : String(err);
}
