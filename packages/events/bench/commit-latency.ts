import { randomUUID } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type EventPublisher, jetStreamPublisher } from "../src/index.ts";
import { authorId, postCreated, postMessage } from "./fixture.ts";
import { startRelay, untilLeader } from "./relay-run.ts";
import { emptyOutbox } from "./relay-throughput.ts";
import { type Distribution, distribution } from "./stats.ts";
import type { World } from "./world.ts";

export interface LatencyOptions {
  ratePerSecond: number;
  seconds: number;
  /** Paced like the rest but left out of the figures (JIT, pool connections, first rounds). */
  warmupSeconds: number;
  /** Concurrent paced writers (pool connections). */
  writers: number;
  batchSize: number;
  pollIntervalMs: number;
}

export interface LatencyResult {
  events: number;
  achievedRate: number;
  /** COMMIT returned → the relay's JetStream publish resolved with the stream's ack (ms). */
  commitToAck: Distribution;
  /** COMMIT returned → the relay called publish for it (NOTIFY, waiting round, SELECT) (ms). */
  commitToPublish: Distribution;
  /** The relay called publish → JetStream's ack arrived (ms). */
  publishToAck: Distribution;
  /** COMMIT returned → a core NATS subscriber on the subject received the message (ms). */
  commitToDelivery: Distribution;
  /** The bench process's event-loop delay while measuring (writers and relay share it) (ms). */
  eventLoopDelay: Distribution;
  /** How late writers started a transaction against its slot (ms): shows they kept pace. */
  scheduleLag: Distribution;
}

interface Commit {
  id: string;
  slot: number;
  committedAt: number;
  lateMs: number;
}

/**
 * Commit → JetStream-ack latency at a fixed rate. Slot k is due at t0 + k / rate; writers take
 * the next slot, wait for it (timer), run one transaction with one `Outbox.enqueue` (a new post,
 * so a new aggregate each time) and note the time right after COMMIT returns. The relay runs
 * in this process with its defaults (NOTIFY wake-ups, pool shared with the writers); its
 * publisher is wrapped to note when JetStream's ack for each `Nats-Msg-Id` arrived.
 */
export async function commitToAck(world: World, o: LatencyOptions): Promise<LatencyResult> {
  await world.freshStream();
  await emptyOutbox(world);
  const called = new Map<string, number>();
  const acked = new Map<string, number>();
  const inner = jetStreamPublisher(world.nats);
  const publisher: EventPublisher = {
    async publish(subject, payload, options) {
      called.set(options.msgID, performance.now());
      await inner.publish(subject, payload, options);
      acked.set(options.msgID, performance.now());
    },
  };
  const delivered = new Map<string, number>();
  const subscription = world.observer.subscribe(world.subject, {
    callback: (_err, msg) => {
      const id = msg.headers?.get("Nats-Msg-Id");
      if (id !== undefined && !delivered.has(id)) delivered.set(id, performance.now());
    },
  });
  await world.observer.flush();
  try {
    await using run = await startRelay(world, {
      batchSize: o.batchSize,
      pollIntervalMs: o.pollIntervalMs,
      publisher,
    });
    await untilLeader(run.relay);

    const total = Math.round(o.ratePerSecond * (o.warmupSeconds + o.seconds));
    const warmupSlots = Math.round(o.ratePerSecond * o.warmupSeconds);
    const interval = 1000 / o.ratePerSecond;
    const commits: Commit[] = [];
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    const t0 = performance.now() + 20;
    let next = 0;
    const writer = async () => {
      for (let slot = next++; slot < total; slot = next++) {
        const due = t0 + slot * interval;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const lateMs = performance.now() - due;
        if (slot === warmupSlots) loopDelay.enable();
        const postId = randomUUID();
        const meta = await world.db.transaction((trx) =>
          world.outbox.enqueue(trx, postCreated, postMessage(postId), {
            actorId: authorId,
            aggregateId: postId,
          }),
        );
        commits.push({ id: meta.id, slot, committedAt: performance.now(), lateMs });
      }
    };
    await Promise.all(Array.from({ length: o.writers }, writer));
    loopDelay.disable();
    await run.publishedReaches(total, 30_000);
    const deadline = performance.now() + 2_000;
    while (delivered.size < total && performance.now() < deadline) await sleep(5);

    const measured = commits.filter((c) => c.slot >= warmupSlots);
    const ack: number[] = [];
    const pickup: number[] = [];
    const nats: number[] = [];
    const delivery: number[] = [];
    for (const c of measured) {
      const p = called.get(c.id);
      const a = acked.get(c.id);
      const d = delivered.get(c.id);
      if (p === undefined || a === undefined || d === undefined) {
        throw new Error(`event ${c.id} never reached NATS`);
      }
      ack.push(a - c.committedAt);
      pickup.push(p - c.committedAt);
      nats.push(a - p);
      delivery.push(d - c.committedAt);
    }
    // The histogram holds whole 1 ms sampling intervals (ns): keep what exceeds the interval.
    const ns = (n: number) => Math.max(0, n / 1e6 - 1);
    const times = measured.map((c) => c.committedAt).sort((a, b) => a - b);
    const span = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
    return {
      events: measured.length,
      achievedRate: (measured.length - 1) / span,
      commitToAck: distribution(ack),
      commitToPublish: distribution(pickup),
      publishToAck: distribution(nats),
      commitToDelivery: distribution(delivery),
      eventLoopDelay: {
        p50: ns(loopDelay.percentile(50)),
        p90: ns(loopDelay.percentile(90)),
        p99: ns(loopDelay.percentile(99)),
        max: ns(loopDelay.max),
      },
      scheduleLag: distribution(measured.map((c) => c.lateMs)),
    };
  } finally {
    subscription.unsubscribe();
  }
}
