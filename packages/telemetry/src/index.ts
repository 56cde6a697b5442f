export { createServiceMetrics, type ServiceMetrics } from "./metrics.ts";
export { startTracing, type TracingOptions } from "./tracing.ts";
