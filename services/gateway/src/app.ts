import { type AccessTokenVerifier, createAccessTokenVerifier } from "@kindred/auth";
import { servicesByDeployable } from "@kindred/proto";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import { type GatewayConfig, upstreamsOf } from "./config.ts";
import { createJwksRoute, isJwksRequest } from "./jwks-route.ts";
import { createProxy } from "./proxy.ts";
import { createUpgradeProxy } from "./upgrade.ts";
import { upstreamChecks } from "./upstream-checks.ts";

export interface GatewayOverrides extends Partial<BaseDependencies> {
  /** Checks access tokens; by default `@kindred/auth` with the configured keys and revocations. */
  verifier?: AccessTokenVerifier;
}

/** The gateway's composition root: the one public port, routing every public service. */
export function createApp(config: GatewayConfig, overrides: GatewayOverrides = {}): ServiceHost {
  const { verifier: verifierOverride, ...base } = overrides;
  const kit = new ServiceKit(config.server, base);
  kit.redis(config.redis);
  // Only session revocations come over NATS: while it is down the gateway keeps routing, and
  // revocations published meanwhile are applied when the feed catches up.
  const nats = kit.nats(config.nats, { critical: false });
  const verifier =
    verifierOverride ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.extra.EVENTS_NAMESPACE,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  const upstreams = upstreamsOf(config);
  const routes = new Map<string, string>(
    Object.entries(servicesByDeployable).flatMap(([owner, services]) =>
      services.map((service) => [service.typeName, owner] as const),
    ),
  );
  const proxy = createProxy({
    routes,
    upstreams,
    logger: kit.logger,
    maxTimeoutMs: config.extra.GATEWAY_MAX_TIMEOUT_MS,
    verifier,
  });
  const jwks = createJwksRoute({
    identityUrl: upstreams.get("identity") as string,
    logger: kit.logger,
  });
  return kit.host({
    fallback: (req, res) => {
      if (isJwksRequest(req)) void jwks(req, res);
      else proxy(req, res);
    },
    onUpgrade: createUpgradeProxy({ upstreams, logger: kit.logger, verifier }),
    checks: upstreamChecks(upstreams),
  });
}
