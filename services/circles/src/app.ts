import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import { circlesStream } from "@kindred/event-catalog";
import { PageTokens } from "@kindred/paging";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import { CircleCache } from "./circle-cache.ts";
import type { CirclesConfig } from "./config.ts";
import { accountRestrictedConsumer } from "./consumers/account-restricted.ts";
import { userDeletedConsumer } from "./consumers/user-deleted.ts";
import { migrations } from "./db/migrations.ts";
import type { CirclesDatabase } from "./db/schema.ts";
import type { CirclesDeps } from "./deps.ts";
import { routes } from "./routes.ts";

export interface CirclesOverrides extends Partial<BaseDependencies> {
  verifier?: AccessTokenVerifier;
  /** The time invites and bans are judged by (tests move it forward). */
  now?: () => Date;
}

export interface CirclesApp {
  host: ServiceHost;
  events: EventsKit;
  deps: CirclesDeps;
}

/** The composition root of circles: every dependency is built here, from config. */
export function buildApp(config: CirclesConfig, overrides: CirclesOverrides = {}): CirclesApp {
  const { verifier: verifierOverride, now, ...base } = overrides;
  const kit = new ServiceKit(config.server, base);
  const db = kit.postgres<CirclesDatabase>(config.database, migrations);
  // Only the fail-soft cache uses Redis: circles stays ready while it is down.
  const redis = kit.redis(config.redis, { critical: false });
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({
    settings: config.events,
    database: config.database,
    db,
    nats,
    streams: [circlesStream],
  });
  const verifier =
    verifierOverride ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.events.namespace,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  // One prefix per events namespace, so parallel tests and shared staging servers do not
  // collide; the caches share it, and so their tags.
  const namespace = config.events.namespace;
  const prefix = `kindred:circles${namespace === "" ? "" : `:${namespace}`}`;
  const cache = new CircleCache(
    {
      standings: kit.cache(redis, { name: "circle", prefix }),
      lists: kit.cache(redis, { name: "circle-list", prefix }),
      rows: kit.cache(redis, { name: "circle-list-rows", prefix }),
    },
    config.circles.cacheTtlSeconds,
  );
  const deps: CirclesDeps = {
    db,
    outbox: events.outbox,
    cache,
    pageTokens: new PageTokens(config.circles.pageTokenKey),
    settings: config.circles,
    now: now ?? (() => new Date()),
  };
  // Reactions to accounts (ADR 12): deletion and platform bans take people out of circles.
  events.consume(userDeletedConsumer(deps));
  events.consume(accountRestrictedConsumer(deps));
  const host = kit.host({ routes: routes(deps), interceptors: [authInterceptor(verifier)] });
  return { host, events, deps };
}

export const createApp = (config: CirclesConfig, overrides?: CirclesOverrides) =>
  buildApp(config, overrides).host;
