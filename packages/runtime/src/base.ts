import type { ServerSettings } from "@kindred/config";
import { createLogger, type Logger } from "@kindred/logging";
import { createServiceMetrics, type ServiceMetrics, startTracing } from "@kindred/telemetry";

export interface BaseDependencies {
  logger: Logger;
  metrics: ServiceMetrics;
  tracing: AsyncDisposable & { enabled: boolean };
}

/** The logger, metrics and tracing every service builds first, from its server settings. */
export function createBaseDependencies(
  settings: ServerSettings,
  overrides: Partial<BaseDependencies> = {},
): BaseDependencies {
  return {
    logger: overrides.logger ?? createLogger({ service: settings.name, level: settings.logLevel }),
    metrics: overrides.metrics ?? createServiceMetrics(settings.name),
    tracing:
      overrides.tracing ??
      startTracing({ service: settings.name, endpoint: settings.otlpEndpoint }),
  };
}
