import { servicesByDeployable } from "@kindred/proto";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import { type GatewayConfig, upstreamsOf } from "./config.ts";
import { createProxy } from "./proxy.ts";
import { createUpgradeProxy } from "./upgrade.ts";
import { upstreamChecks } from "./upstream-checks.ts";

/** The gateway's composition root: the one public port, routing every public service. */
export function createApp(
  config: GatewayConfig,
  overrides: Partial<BaseDependencies> = {},
): ServiceHost {
  const kit = new ServiceKit(config.server, overrides);
  kit.redis(config.redis);
  const upstreams = upstreamsOf(config);
  const routes = new Map<string, string>(
    Object.entries(servicesByDeployable).flatMap(([owner, services]) =>
      services.map((service) => [service.typeName, owner] as const),
    ),
  );
  return kit.host({
    fallback: createProxy({
      routes,
      upstreams,
      logger: kit.logger,
      maxTimeoutMs: (config.extra as { GATEWAY_MAX_TIMEOUT_MS: number }).GATEWAY_MAX_TIMEOUT_MS,
    }),
    onUpgrade: createUpgradeProxy({ upstreams, logger: kit.logger }),
    checks: upstreamChecks(upstreams),
  });
}
