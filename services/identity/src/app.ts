import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import type { IdentityConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";
import type { IdentityDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

/** The composition root of identity: every dependency is built here, from config. */
export function createApp(
  config: IdentityConfig,
  overrides: Partial<BaseDependencies> = {},
): ServiceHost {
  const kit = new ServiceKit(config.server, overrides);
  kit.postgres<IdentityDatabase>(config.database, migrations);
  kit.nats(config.nats);
  return kit.host({ routes: routes() });
}
