import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What every log line written while handling one request (or one event) carries. The request id
 * names this hop; the correlation id follows a user action across services and events.
 */
export interface LogContext {
  requestId: string;
  correlationId: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `context` attached to every log line it (transitively) writes. */
export function withLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}
