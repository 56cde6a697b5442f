import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import type { NotifierConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";
import type { NotifierDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

/** The composition root of notifier: every dependency is built here, from config. */
export function createApp(
  config: NotifierConfig,
  overrides: Partial<BaseDependencies> = {},
): ServiceHost {
  const kit = new ServiceKit(config.server, overrides);
  kit.postgres<NotifierDatabase>(config.database, migrations);
  kit.nats(config.nats);
  return kit.host({ routes: routes() });
}
