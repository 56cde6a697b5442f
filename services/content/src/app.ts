import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import type { ContentConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";
import type { ContentDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

/** The composition root of content: every dependency is built here, from config. */
export function createApp(
  config: ContentConfig,
  overrides: Partial<BaseDependencies> = {},
): ServiceHost {
  const kit = new ServiceKit(config.server, overrides);
  kit.postgres<ContentDatabase>(config.database, migrations);
  kit.nats(config.nats);
  return kit.host({ routes: routes() });
}
