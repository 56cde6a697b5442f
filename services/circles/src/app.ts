import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import type { CirclesConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";
import type { CirclesDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

export interface CirclesOverrides extends Partial<BaseDependencies> {
  verifier?: AccessTokenVerifier;
}

/** The composition root of circles: every dependency is built here, from config. */
export function createApp(config: CirclesConfig, overrides: CirclesOverrides = {}): ServiceHost {
  const kit = new ServiceKit(config.server, overrides);
  kit.postgres<CirclesDatabase>(config.database, migrations);
  const nats = kit.nats(config.nats);
  const verifier =
    overrides.verifier ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.extra.EVENTS_NAMESPACE,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  return kit.host({ routes: routes(), interceptors: [authInterceptor(verifier)] });
}
