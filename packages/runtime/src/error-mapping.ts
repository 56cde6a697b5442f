import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { DomainError, type ErrorCode } from "@kindred/errors";
import type { Logger } from "@kindred/logging";
import { requestIdHeader } from "./request-context.ts";

const codes: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  unimplemented: Code.Unimplemented,
};

/**
 * The one place an error becomes what a client sees. A `DomainError` keeps its safe message
 * and maps to its Connect code; a `ConnectError` raised deliberately (validation,
 * unimplemented, a deadline) passes through; anything else is a bug: the client gets
 * `internal` with only the request id, and the log gets the cause.
 */
export function toConnectError(err: unknown, requestId: string, logger: Logger): ConnectError {
  const metadata = new Headers({ [requestIdHeader]: requestId });
  if (err instanceof DomainError) {
    const level = err.code === "unavailable" ? "warn" : "info";
    logger[level]({ err, code: err.code, reason: err.reason }, "request failed");
    return new ConnectError(err.message, codes[err.code], metadata, undefined, err);
  }
  if (err instanceof ConnectError && err.code !== Code.Internal && err.code !== Code.Unknown) {
    logger.info({ code: Code[err.code], detail: err.rawMessage }, "request failed");
    for (const [k, v] of metadata) err.metadata.set(k, v);
    return err;
  }
  logger.error({ err }, "unexpected error");
  return new ConnectError(`internal error (request id ${requestId})`, Code.Internal, metadata);
}

export function errorMappingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const requestId = req.header.get(requestIdHeader) ?? "unknown";
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const inner = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* inner;
          } catch (err) {
            throw toConnectError(err, requestId, logger);
          }
        })(),
      };
    } catch (err) {
      throw toConnectError(err, requestId, logger);
    }
  };
}
