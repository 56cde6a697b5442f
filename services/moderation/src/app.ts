import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import type { ModerationConfig } from "./config.ts";
import { postScanConsumer } from "./consumers/post-scan.ts";
import { migrations } from "./db/migrations.ts";
import type { ModerationDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

/** The composition root of moderation: every dependency is built here, from config. */
export function buildApp(
  config: ModerationConfig,
  overrides: Partial<BaseDependencies> = {},
): { host: ServiceHost; events: EventsKit } {
  const kit = new ServiceKit(config.server, overrides);
  const db = kit.postgres<ModerationDatabase>(config.database, migrations);
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({ settings: config.events, database: config.database, db, nats });
  events.consume(postScanConsumer);
  return { host: kit.host({ routes: routes() }), events };
}

export const createApp = (config: ModerationConfig, overrides?: Partial<BaseDependencies>) =>
  buildApp(config, overrides).host;
