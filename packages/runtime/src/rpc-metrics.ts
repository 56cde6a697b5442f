import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { ServiceMetrics } from "@kindred/telemetry";

/** Code names as Prometheus label values: `ok`, `not_found`, `invalid_argument`, … */
export function codeLabel(err: unknown): string {
  const code = ConnectError.from(err).code;
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Rate, errors and duration of every RPC, by procedure and result code. */
export function rpcMetricsInterceptor(metrics: ServiceMetrics): Interceptor {
  return (next) => async (req) => {
    const procedure = `/${req.service.typeName}/${req.method.name}`;
    const started = process.hrtime.bigint();
    metrics.rpcInFlight.inc({ procedure });
    const record = (code: string) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.rpcRequests.inc({ procedure, code });
      metrics.rpcDuration.observe({ procedure, code }, seconds);
      metrics.rpcInFlight.dec({ procedure });
    };
    try {
      const res = await next(req);
      record("ok");
      return res;
    } catch (err) {
      record(codeLabel(err));
      throw err;
    }
  };
}
