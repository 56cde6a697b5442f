import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import { contentStream } from "@kindred/event-catalog";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import type { ContentConfig } from "./config.ts";
import { userDeletedConsumer } from "./consumers/user-deleted.ts";
import { migrations } from "./db/migrations.ts";
import type { ContentDatabase } from "./db/schema.ts";
import { routes } from "./routes.ts";

export interface ContentOverrides extends Partial<BaseDependencies> {
  verifier?: AccessTokenVerifier;
}

/** The composition root of content: every dependency is built here, from config. */
export function buildApp(
  config: ContentConfig,
  overrides: ContentOverrides = {},
): { host: ServiceHost; events: EventsKit } {
  const kit = new ServiceKit(config.server, overrides);
  const db = kit.postgres<ContentDatabase>(config.database, migrations);
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({
    settings: config.events,
    database: config.database,
    db,
    nats,
    streams: [contentStream],
  });
  events.consume(userDeletedConsumer);
  const verifier =
    overrides.verifier ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.events.namespace,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  const host = kit.host({
    routes: routes({ db, outbox: events.outbox }),
    interceptors: [authInterceptor(verifier)],
  });
  return { host, events };
}

export const createApp = (config: ContentConfig, overrides?: ContentOverrides) =>
  buildApp(config, overrides).host;
