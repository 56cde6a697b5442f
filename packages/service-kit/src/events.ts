import { setTimeout as sleep } from "node:timers/promises";
import type { DescMessage } from "@bufbuild/protobuf";
import type { DatabaseSettings, EventsSettings } from "@kindred/config";
import type { Database } from "@kindred/database";
import {
  applyTopology,
  type ConsumerSpec,
  EventConsumer,
  type EventNamespace,
  eventNamespace,
  jetStreamPublisher,
  Outbox,
  OutboxRelay,
  type StreamSpec,
} from "@kindred/events";
import type { Logger } from "@kindred/logging";
import type { NatsClient } from "@kindred/nats";
import { backoffDelay } from "@kindred/resilience";
import type { HealthCheck, Lifecycle } from "@kindred/runtime";
import type { Registry } from "prom-client";

export interface EventsKitOptions {
  service: string;
  settings: EventsSettings;
  database: DatabaseSettings;
  // biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
  db: Database<any>;
  nats: NatsClient;
  logger: Logger;
  registry: Registry;
  lifecycle: Lifecycle;
  /** Resolves when the outbox, inbox and dead-letter tables exist (migrations applied). */
  schemaReady?: () => Promise<void>;
  /** The streams this service owns; a producer declares them and runs the relay. */
  streams?: readonly StreamSpec[];
}

/**
 * A service's side of the event backbone: the outbox it writes to and the relay that publishes
 * it (when it owns streams), the topology applied at start, and its consumers. Nothing here
 * waits for NATS at start; readiness shows the relay's state without depending on NATS.
 */
export class EventsKit {
  readonly namespace: EventNamespace;
  readonly outbox: Outbox;
  readonly relay: OutboxRelay | undefined;
  readonly consumers: EventConsumer<DescMessage>[] = [];
  readonly streams: readonly StreamSpec[];
  readonly #options: EventsKitOptions;

  constructor(options: EventsKitOptions) {
    this.#options = options;
    this.namespace = eventNamespace(options.settings.namespace);
    this.outbox = new Outbox(options.service, this.namespace);
    this.streams = options.streams ?? [];
    this.relay =
      this.streams.length === 0
        ? undefined
        : new OutboxRelay({
            db: options.db,
            connection: {
              url: options.database.url,
              password: options.database.password,
              connectTimeoutMs: options.database.connectTimeoutMs,
            },
            publisher: jetStreamPublisher(options.nats),
            logger: options.logger.child({ component: "outbox-relay" }),
            registry: options.registry,
            batchSize: options.settings.outboxBatchSize,
            pollIntervalMs: options.settings.outboxPollIntervalMs,
            retentionMs: options.settings.outboxRetentionMs,
            // Trimming the outbox is the service's `outbox-retention` job (ServiceKit.events).
            cleanupIntervalMs: Number.POSITIVE_INFINITY,
          });
  }

  get database(): EventsKitOptions["db"] {
    return this.#options.db;
  }

  get natsClient(): NatsClient {
    return this.#options.nats;
  }

  /** Declares a durable consumer; it starts with the service. */
  consume<Desc extends DescMessage>(spec: ConsumerSpec<Desc>): EventConsumer<Desc> {
    const { db, nats, logger, registry, settings } = this.#options;
    const consumer = new EventConsumer(spec, {
      db,
      nats,
      logger: logger.child({ component: "consumer", consumer: spec.name }),
      registry,
      maxDeliveries: settings.consumerMaxDeliveries,
      namespace: this.namespace,
    });
    this.consumers.push(consumer as unknown as EventConsumer<DescMessage>);
    return consumer;
  }

  /** Creates or updates the streams this service owns (the `topology` command, and at start). */
  async applyTopology(): Promise<void> {
    if (this.streams.length === 0) return;
    const jsm = await this.#options.nats.jetstreamManager();
    await applyTopology(jsm, this.streams, {
      replicas: this.#options.settings.streamReplicas,
      maxBytes:
        this.#options.settings.streamMaxMegabytes === 0
          ? -1
          : this.#options.settings.streamMaxMegabytes * 1_048_576,
      namespace: this.namespace,
      logger: this.#options.logger,
    });
  }

  /** Registers start and stop steps; call after the database and NATS clients exist. */
  register(): HealthCheck[] {
    const { lifecycle, logger, nats } = this.#options;
    const stop = new AbortController();
    let topologyApplied = this.streams.length === 0;
    let work: Promise<void> = Promise.resolve();
    lifecycle.add(
      "events",
      () => {
        work = (async () => {
          for (let attempt = 0; !topologyApplied && !stop.signal.aborted; attempt++) {
            try {
              await nats.connected(stop.signal);
              await this.applyTopology();
              topologyApplied = true;
            } catch (err) {
              if (stop.signal.aborted) return;
              logger.warn({ err, attempt }, "cannot apply stream topology yet; retrying");
              await sleep(backoffDelay(attempt, 250, 10_000), undefined, {
                signal: stop.signal,
              }).catch(() => {});
            }
          }
          // Relay and consumers need the event tables: wait for migrations run at start.
          await Promise.race([
            this.#options.schemaReady?.(),
            new Promise((resolve) =>
              stop.signal.addEventListener("abort", resolve, { once: true }),
            ),
          ]);
          if (stop.signal.aborted) return;
          this.relay?.start();
          for (const consumer of this.consumers) consumer.start();
        })();
      },
      async () => {
        stop.abort();
        await work;
        await Promise.all(this.consumers.map((c) => c[Symbol.asyncDispose]()));
        await this.relay?.[Symbol.asyncDispose]();
      },
    );
    const relay = this.relay;
    if (relay === undefined) return [];
    return [
      {
        name: "outbox",
        critical: false,
        check: async () => {
          const status = relay.status();
          const backlog = await relay.backlog();
          if (status.lastPublishError !== undefined) {
            throw new Error(
              `publishing fails (${backlog.count} waiting, oldest ${Math.round(backlog.oldestAgeSeconds)} s): ${status.lastPublishError}`,
            );
          }
          return { ...status, topologyApplied, ...backlog };
        },
      },
    ];
  }
}
