import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import { contentStream } from "@kindred/event-catalog";
import { PageTokens } from "@kindred/paging";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import { AccessRules } from "./access.ts";
import type { ContentConfig } from "./config.ts";
import { userBlockedConsumer, userUnblockedConsumer } from "./consumers/blocks.ts";
import {
  memberJoinedConsumer,
  memberLeftConsumer,
  memberRemovedConsumer,
  memberRoleChangedConsumer,
} from "./consumers/circle-members.ts";
import {
  circleArchivedConsumer,
  circleCreatedConsumer,
  circleUpdatedConsumer,
} from "./consumers/circle-state.ts";
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
  // Projections of other services' events (ADR 11), one durable consumer per event type.
  events.consume(circleCreatedConsumer);
  events.consume(circleUpdatedConsumer);
  events.consume(circleArchivedConsumer);
  events.consume(memberJoinedConsumer);
  events.consume(memberLeftConsumer);
  events.consume(memberRemovedConsumer);
  events.consume(memberRoleChangedConsumer);
  events.consume(userBlockedConsumer);
  events.consume(userUnblockedConsumer);
  events.consume(userDeletedConsumer({ outbox: events.outbox }));
  const verifier =
    overrides.verifier ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.events.namespace,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  const access = new AccessRules({
    db: db.kysely,
    membershipWaitMs: config.content.membershipWaitMs,
  });
  const host = kit.host({
    routes: routes({
      db,
      outbox: events.outbox,
      access,
      pageTokens: new PageTokens(config.content.pageTokenKey),
    }),
    interceptors: [authInterceptor(verifier)],
  });
  return { host, events };
}

export const createApp = (config: ContentConfig, overrides?: ContentOverrides) =>
  buildApp(config, overrides).host;
