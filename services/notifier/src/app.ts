import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import type { NotifierConfig } from "./config.ts";
import { postCreatedConsumer } from "./consumers/post-created.ts";
import { migrations } from "./db/migrations.ts";
import type { NotifierDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

/** The composition root of notifier: every dependency is built here, from config. */
export function buildApp(
  config: NotifierConfig,
  overrides: Partial<BaseDependencies> = {},
): { host: ServiceHost; events: EventsKit } {
  const kit = new ServiceKit(config.server, overrides);
  const db = kit.postgres<NotifierDatabase>(config.database, migrations);
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({ settings: config.events, database: config.database, db, nats });
  events.consume(postCreatedConsumer);
  return { host: kit.host({ routes: routes() }), events };
}

export const createApp = (config: NotifierConfig, overrides?: Partial<BaseDependencies>) =>
  buildApp(config, overrides).host;
