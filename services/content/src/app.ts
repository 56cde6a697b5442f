import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import { contentStream } from "@kindred/event-catalog";
import { PageTokens } from "@kindred/paging";
import type { BaseDependencies } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
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
import {
  caseOpenedConsumer,
  contentHiddenConsumer,
  decisionMadeConsumer,
  decisionReversedConsumer,
  evidenceReleasedConsumer,
} from "./consumers/moderation-cases.ts";
import { sosRestrictionConsumer } from "./consumers/sos-restrictions.ts";
import { userDeletedConsumer } from "./consumers/user-deleted.ts";
import { migrations } from "./db/migrations.ts";
import type { ContentDatabase } from "./db/schema.ts";
import { FeedCache } from "./feed-cache.ts";
import { purgeExpired } from "./purge.ts";
import { routes } from "./routes.ts";
import { SosRules } from "./sos-access.ts";
import { escalateDueAlerts } from "./sos-escalation.ts";

export interface ContentOverrides extends Partial<BaseDependencies> {
  verifier?: AccessTokenVerifier;
}

/** Background jobs of content (ADR 10): one runner at a time across replicas. */
export const jobNames = { escalation: "sos-escalation", purge: "purge" } as const;

/** The composition root of content: every dependency is built here, from config. */
export function buildApp(config: ContentConfig, overrides: ContentOverrides = {}) {
  const kit = new ServiceKit(config.server, overrides);
  const db = kit.postgres<ContentDatabase>(config.database, migrations);
  // Only the feed cache uses Redis: while it is down, reads go to the database (ADR 10).
  const redis = kit.redis(config.redis, { critical: false });
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({
    settings: config.events,
    database: config.database,
    db,
    nats,
    streams: [contentStream],
  });
  // One key prefix per events namespace, so parallel tests and shared servers do not collide.
  const namespace = config.events.namespace;
  const feedCache = new FeedCache({
    cache: kit.cache(redis, {
      name: "feed",
      prefix: `kindred:content${namespace === "" ? "" : `:${namespace}`}`,
    }),
    ttlSeconds: config.content.feedCacheTtlSeconds,
  });
  // Projections of other services' events (ADR 11, ADR 13), one durable consumer per event type.
  const projection = { feedCache };
  events.consume(circleCreatedConsumer(projection));
  events.consume(circleUpdatedConsumer);
  events.consume(circleArchivedConsumer(projection));
  events.consume(memberJoinedConsumer(projection));
  events.consume(memberLeftConsumer(projection));
  events.consume(memberRemovedConsumer(projection));
  events.consume(memberRoleChangedConsumer(projection));
  events.consume(userBlockedConsumer(projection));
  events.consume(userUnblockedConsumer(projection));
  events.consume(userDeletedConsumer({ outbox: events.outbox, feedCache }));
  events.consume(sosRestrictionConsumer);
  // Moderation's cases about posts and responses (ADR 15): holds, hiding, removal, restore.
  const moderation = { outbox: events.outbox, feedCache };
  events.consume(caseOpenedConsumer(moderation));
  events.consume(contentHiddenConsumer(moderation));
  events.consume(decisionMadeConsumer(moderation));
  events.consume(decisionReversedConsumer(moderation));
  events.consume(evidenceReleasedConsumer(moderation));

  const jobs = kit.jobs(db);
  jobs.schedule({
    name: jobNames.escalation,
    everyMs: config.sos.escalationCheckMs,
    runAtStart: true,
    run: (signal) =>
      escalateDueAlerts(db, events.outbox, {
        ackTimeoutSeconds: config.sos.ackTimeoutSeconds,
        signal,
      }),
  });
  jobs.schedule({
    name: jobNames.purge,
    everyMs: config.purge.intervalMs,
    run: async (signal) => ({
      ...(await purgeExpired(db, {
        now: new Date(),
        graceSeconds: config.purge.graceSeconds,
        signal,
      })),
    }),
  });

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
  const pageTokens = new PageTokens(config.content.pageTokenKey);
  const host = kit.host({
    routes: routes({
      posts: { db, outbox: events.outbox, access, pageTokens, feedCache },
      sos: {
        db,
        outbox: events.outbox,
        access,
        sos: new SosRules(access),
        pageTokens,
        maxPerHour: config.sos.maxPerHour,
      },
    }),
    interceptors: [authInterceptor(verifier)],
  });
  return { host, events, jobs, redis };
}

export type ContentApp = ReturnType<typeof buildApp>;

export const createApp = (config: ContentConfig, overrides?: ContentOverrides) =>
  buildApp(config, overrides).host;
