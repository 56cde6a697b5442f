import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import { moderationStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import { PageTokens } from "@kindred/paging";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import type { ModerationConfig } from "./config.ts";
import { userDeletedConsumer, userRegisteredConsumer } from "./consumers/accounts.ts";
import { circleConsumers } from "./consumers/circles.ts";
import { contentItemConsumers } from "./consumers/content-items.ts";
import { type OnCallPager, onCallConsumers } from "./consumers/on-call.ts";
import { migrations } from "./db/migrations.ts";
import type { ModerationDatabase } from "./db/schema.ts";
import type { ModerationDeps } from "./deps.ts";
import { type Classifier, createClassifier } from "./outbound/classifier.ts";
import { createPager } from "./outbound/pager.ts";
import { routes } from "./routes.ts";
import { combineVerdict, defaultRulesPath, RulesSource } from "./rules/index.ts";
import { Scanner } from "./scanner.ts";
import { sweep } from "./sweep.ts";

export interface ModerationOverrides extends Partial<BaseDependencies> {
  verifier?: AccessTokenVerifier;
  /** The time claims, appeal windows and mutes are judged by (tests move it forward). */
  now?: () => Date;
}

export interface ModerationApp {
  host: ServiceHost;
  events: EventsKit;
  deps: ModerationDeps;
  scanner: Scanner;
  /** The rules in use (after start). */
  rules: () => RulesSource;
}

/** Background jobs of moderation (ADR 10): one runner at a time across replicas. */
export const jobNames = { sweep: "moderation-sweep" } as const;

/** The composition root of moderation: every dependency is built here, from config. */
export function buildApp(
  config: ModerationConfig,
  overrides: ModerationOverrides = {},
): ModerationApp {
  const { verifier: verifierOverride, now: nowOverride, ...base } = overrides;
  const now = nowOverride ?? (() => new Date());
  const kit = new ServiceKit(config.server, base);
  const { logger } = kit;
  const db = kit.postgres<ModerationDatabase>(config.database, migrations);
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({
    settings: config.events,
    database: config.database,
    db,
    nats,
    streams: [moderationStream],
  });

  // The rules file, reloaded when it changes (ADR 16); the scanner reads the current rules.
  let rules: RulesSource | undefined;
  kit.lifecycle.add(
    "rules",
    async () => {
      rules = await RulesSource.open({
        path: config.rules.file ?? defaultRulesPath(),
        pollIntervalMs: config.rules.pollMs,
        logger: logger.child({ component: "rules" }),
      });
    },
    async () => {
      await rules?.[Symbol.asyncDispose]();
    },
  );
  const currentRules = () => {
    if (rules === undefined) throw new Error("the rules are not loaded yet");
    return rules;
  };
  const classifier: Classifier | undefined =
    config.classifier === undefined
      ? undefined
      : createClassifier({
          ...config.classifier,
          logger: logger.child({ component: "classifier" }),
          registry: kit.metrics.registry,
        });
  const scanner = new Scanner({
    db,
    outbox: events.outbox,
    rules: () => currentRules().current(),
    combine: combineVerdict,
    classifier,
    logger: logger.child({ component: "scanner" }),
    registry: kit.metrics.registry,
    pollMs: config.moderation.scanPollMs,
    now,
  });
  kit.lifecycle.add(
    "scanner",
    // The scanner needs the tables: it starts once migrations run at start are done.
    () =>
      void kit.schemaReady.then(
        () => scanner.start(),
        () => undefined, // a failed migration fails readiness; nothing to scan meanwhile
      ),
    () => scanner[Symbol.asyncDispose](),
  );

  consumeAll(events, contentItemConsumers({ wake: () => scanner.wake() }));
  consumeAll(events, [userRegisteredConsumer, userDeletedConsumer]);
  consumeAll(events, circleConsumers);
  const pager: OnCallPager =
    config.pager === undefined
      ? {
          // No pager configured (development): the page is logged, loudly, and counts as sent.
          async page(alert) {
            logger.warn(
              { caseId: alert.caseId, reason: alert.reason },
              "on-call page (no PAGER_URL)",
            );
          },
        }
      : createPager({
          ...config.pager,
          logger: logger.child({ component: "pager" }),
          registry: kit.metrics.registry,
        });
  consumeAll(events, onCallConsumers(pager));

  kit.jobs(db).schedule({
    name: jobNames.sweep,
    everyMs: config.moderation.sweepMs,
    run: (signal) => sweep(db, events.outbox, { now, signal }),
  });

  const verifier =
    verifierOverride ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.events.namespace,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  const deps: ModerationDeps = {
    db,
    outbox: events.outbox,
    pageTokens: new PageTokens(config.moderation.pageTokenKey),
    settings: config.moderation,
    now,
  };
  const host = kit.host({ routes: routes(deps), interceptors: [authInterceptor(verifier)] });
  return { host, events, deps, scanner, rules: currentRules };
}

/** Registers consumers of different event types (each is its own durable consumer). */
// biome-ignore lint/suspicious/noExplicitAny: each spec is checked where it is defined
function consumeAll(events: EventsKit, specs: readonly ConsumerSpec<any>[]) {
  for (const spec of specs) events.consume(spec);
}

export const createApp = (config: ModerationConfig, overrides?: ModerationOverrides) =>
  buildApp(config, overrides).host;
