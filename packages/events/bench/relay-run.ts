import { setTimeout as sleep } from "node:timers/promises";
import { Counter, Registry } from "prom-client";
import { type EventPublisher, jetStreamPublisher, OutboxRelay } from "../src/index.ts";
import { logger, type World } from "./world.ts";

export interface RelayRun extends AsyncDisposable {
  readonly relay: OutboxRelay;
  /** Rows the relay published and marked sent (its `kindred_outbox_published_total`). */
  published(): Promise<number>;
  /** Resolves when `published()` reaches `count`. */
  publishedReaches(count: number, timeoutMs: number): Promise<void>;
}

/** One `OutboxRelay` on the world's pool and NATS connection, started and leading. */
export async function startRelay(
  world: World,
  options: { batchSize: number; pollIntervalMs: number; publisher?: EventPublisher },
): Promise<RelayRun> {
  const registry = new Registry();
  const relay = new OutboxRelay({
    db: world.db,
    connection: { url: world.databaseUrl },
    publisher: options.publisher ?? jetStreamPublisher(world.nats),
    logger,
    registry,
    batchSize: options.batchSize,
    pollIntervalMs: options.pollIntervalMs,
  });
  const counter = registry.getSingleMetric("kindred_outbox_published_total");
  if (!(counter instanceof Counter)) throw new Error("relay metrics are not registered");
  const published = async () => (await counter.get()).values[0]?.value ?? 0;
  relay.start();
  return {
    relay,
    published,
    async publishedReaches(count, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while ((await published()) < count) {
        if (performance.now() > deadline) {
          throw new Error(`relay published ${await published()} of ${count} in ${timeoutMs} ms`);
        }
        await sleep(2);
      }
    },
    [Symbol.asyncDispose]: () => relay[Symbol.asyncDispose](),
  };
}

export async function untilLeader(relay: OutboxRelay, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (relay.status().role !== "leader") {
    if (performance.now() > deadline) throw new Error("relay did not take the lease");
    await sleep(5);
  }
}
