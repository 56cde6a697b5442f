import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import type { NotifierConfig } from "./config.ts";
import { postCreatedConsumer } from "./consumers/post-created.ts";
import { migrations } from "./db/migrations.ts";
import type { NotifierDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

export interface NotifierOverrides extends Partial<BaseDependencies> {
  verifier?: AccessTokenVerifier;
}

/** The composition root of notifier: every dependency is built here, from config. */
export function buildApp(
  config: NotifierConfig,
  overrides: NotifierOverrides = {},
): { host: ServiceHost; events: EventsKit } {
  const kit = new ServiceKit(config.server, overrides);
  const db = kit.postgres<NotifierDatabase>(config.database, migrations);
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({ settings: config.events, database: config.database, db, nats });
  events.consume(postCreatedConsumer);
  const verifier =
    overrides.verifier ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.events.namespace,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  const host = kit.host({ routes: routes(), interceptors: [authInterceptor(verifier)] });
  return { host, events };
}

export const createApp = (config: NotifierConfig, overrides?: NotifierOverrides) =>
  buildApp(config, overrides).host;
