export { type BaseDependencies, createBaseDependencies } from "./base.ts";
export { errorMappingInterceptor, toConnectError } from "./error-mapping.ts";
export { handleHealthRequest } from "./health-routes.ts";
export { DrainingHttpServer, type RequestHandler, type UpgradeHandler } from "./http-server.ts";
export { Lifecycle } from "./lifecycle.ts";
export { exitConfigError, type MainOptions, runMain } from "./main.ts";
export {
  type CheckResult,
  type HealthCheck,
  Readiness,
  type ReadinessReport,
} from "./readiness.ts";
export {
  acceptId,
  clientAddressOf,
  correlationIdHeader,
  peerAddressKey,
  requestContextInterceptor,
  requestIdHeader,
} from "./request-context.ts";
export { codeLabel, rpcMetricsInterceptor } from "./rpc-metrics.ts";
export { type HostSettings, ServiceHost, type ServiceHostOptions } from "./service-host.ts";
