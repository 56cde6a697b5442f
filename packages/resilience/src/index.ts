export { abandonOnAbort } from "./abandon-on-abort.ts";
export { abortableDelay } from "./abortable-delay.ts";
export { backoffDelay } from "./backoff.ts";
export { HealthCheckError, rootCauseMessage } from "./health-check-error.ts";
export type { Logger } from "./logger.ts";
export { isNetworkErrorCode } from "./network-errors.ts";
export {
  type CircuitStateName,
  createResiliencePolicy,
  type ExecuteOptions,
  type ResiliencePolicy,
  type ResiliencePolicyOptions,
} from "./policy.ts";
