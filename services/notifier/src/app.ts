import {
  type AccessTokenVerifier,
  authInterceptor,
  createAccessTokenVerifier,
} from "@kindred/auth";
import type { ConsumerSpec } from "@kindred/events";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import type { NotifierConfig } from "./config.ts";
import { accountRestrictedConsumer, userDeletedConsumer } from "./consumers/accounts.ts";
import { blockConsumers } from "./consumers/blocks.ts";
import { circleMemberConsumers } from "./consumers/circle-members.ts";
import {
  postRemovedConsumer,
  responseCreatedConsumer,
  responseRemovedConsumer,
} from "./consumers/content.ts";
import { decisionMadeConsumer, decisionReversedConsumer } from "./consumers/decisions.ts";
import { postCreatedConsumer } from "./consumers/post-created.ts";
import { sosEscalatedConsumer, sosRaisedConsumer, sosResolvedConsumer } from "./consumers/sos.ts";
import { migrations } from "./db/migrations.ts";
import type { NotifierDatabase, PlatformName } from "./db/schema.ts";
import type { NotifierDeps } from "./deps.ts";
import { Dispatcher } from "./dispatcher.ts";
import { NotifierMetrics } from "./metrics.ts";
import { pushProviders } from "./push/providers.ts";
import type { PushProvider } from "./push/types.ts";
import type { QueueContext } from "./queue.ts";
import { routes } from "./routes.ts";

export interface NotifierOverrides extends Partial<BaseDependencies> {
  verifier?: AccessTokenVerifier;
  /**
   * The push providers per platform. A platform without one has its pushes dropped ("no
   * provider for <platform>"). By default the APNs and FCM providers configured (`APNS_*`,
   * `FCM_*`); tests pass their own.
   */
  providers?: Partial<Record<PlatformName, PushProvider>>;
  /** `false`: the dispatcher does not run by itself; tests drive it with `drain()`. */
  startDispatcher?: boolean;
  /** The time quiet hours are judged by. */
  now?: () => Date;
}

export interface NotifierApp {
  host: ServiceHost;
  events: EventsKit;
  deps: NotifierDeps;
  dispatcher: Dispatcher;
}

/** The composition root of notifier: every dependency is built here, from config. */
export function buildApp(config: NotifierConfig, overrides: NotifierOverrides = {}): NotifierApp {
  const { verifier: verifierOverride, providers, startDispatcher = true, now, ...base } = overrides;
  const kit = new ServiceKit(config.server, base);
  const { logger } = kit;
  const db = kit.postgres<NotifierDatabase>(config.database, migrations);
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({ settings: config.events, database: config.database, db, nats });
  const metrics = new NotifierMetrics(kit.metrics.registry);

  // The providers from config (APNs, FCM), unless a test passes its own; each closes its
  // connections after the dispatcher stopped (stop steps run in reverse).
  const pushers =
    providers ?? pushProviders(config.push, { logger, registry: kit.metrics.registry });
  for (const provider of Object.values(pushers)) {
    const dispose = (provider as Partial<AsyncDisposable>)[Symbol.asyncDispose];
    if (dispose !== undefined) {
      kit.lifecycle.onStop("push-provider", async () => {
        await dispose.call(provider);
      });
    }
  }
  const dispatcher = new Dispatcher({
    db,
    providers: pushers,
    metrics,
    logger: logger.child({ component: "dispatcher" }),
    registry: kit.metrics.registry,
    settings: config.dispatcher,
    ...(now === undefined ? {} : { now }),
  });
  kit.lifecycle.add(
    "dispatcher",
    // The dispatcher needs the tables: it starts once migrations run at start are done.
    () =>
      void kit.schemaReady.then(
        () => {
          if (startDispatcher) dispatcher.start();
        },
        () => undefined, // a failed migration fails readiness; nothing to send meanwhile
      ),
    () => dispatcher[Symbol.asyncDispose](),
  );

  const queue: QueueContext = { metrics, wake: () => dispatcher.wake() };
  consumeAll(events, [
    postCreatedConsumer,
    responseCreatedConsumer(queue),
    postRemovedConsumer(queue),
    responseRemovedConsumer(queue),
    sosRaisedConsumer(queue),
    sosEscalatedConsumer(queue, logger.child({ component: "sos" })),
    sosResolvedConsumer(queue),
    decisionMadeConsumer(queue),
    decisionReversedConsumer(queue),
    accountRestrictedConsumer(queue),
    userDeletedConsumer(queue),
    ...blockConsumers(queue),
    ...circleMemberConsumers,
  ]);

  const verifier =
    verifierOverride ??
    createAccessTokenVerifier(config.auth, {
      revocations: kit.sessionRevocations(nats, {
        namespace: config.events.namespace,
        lookbackMs: config.auth.revocationLookbackMs,
      }),
    });
  const deps: NotifierDeps = { db, metrics, maxDevicesPerUser: config.devices.maxPerUser };
  const host = kit.host({
    routes: routes(deps),
    interceptors: [authInterceptor(verifier)],
    checks: [
      {
        // Late pushes show here, without making the instance unready: RPCs still work.
        name: "push-queue",
        critical: false,
        check: async () => ({
          ...(await dispatcher.backlog()),
          providers: Object.keys(pushers).sort(),
        }),
      },
    ],
  });
  return { host, events, deps, dispatcher };
}

/** Registers consumers of different event types (each is its own durable consumer). */
// biome-ignore lint/suspicious/noExplicitAny: each spec is checked where it is defined
function consumeAll(events: EventsKit, specs: readonly ConsumerSpec<any>[]) {
  for (const spec of specs) events.consume(spec);
}

export const createApp = (config: NotifierConfig, overrides?: NotifierOverrides) =>
  buildApp(config, overrides).host;
