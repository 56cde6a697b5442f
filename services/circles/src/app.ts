import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import type { CirclesConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";
import type { CirclesDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

/** The composition root of circles: every dependency is built here, from config. */
export function createApp(
  config: CirclesConfig,
  overrides: Partial<BaseDependencies> = {},
): ServiceHost {
  const kit = new ServiceKit(config.server, overrides);
  kit.postgres<CirclesDatabase>(config.database, migrations);
  kit.nats(config.nats);
  return kit.host({ routes: routes() });
}
