import { TestNatsServer } from "@kindred/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { EventConsumer, jetStreamPublisher, Outbox, OutboxRelay } from "../src/index.ts";
import { backbone, logger } from "./helpers.ts";
import { kill, startWorker, until } from "./processes.ts";

const outbox = new Outbox("content");
const circleId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
const post = (postId: string) => ({ postId, circleId, authorId: circleId, body: "b", version: 1n });

type World = Awaited<ReturnType<typeof backbone>>;

/** `total` writes from `writers` concurrent writers; each writer owns its aggregates, so the
 * order of one aggregate's events is the order its writer committed them. */
async function writeMany(
  world: World,
  total: number,
  writers: number,
  onWrite?: (n: number) => void,
) {
  const written: { id: string; aggregate: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = next++; i < total; i = next++) {
        const aggregate = `agg-${w}-${i % 5}`;
        const meta = await world.db.transaction((trx) =>
          outbox.enqueue(trx, world.event, post(aggregate), {
            actorId: "system:test",
            aggregateId: aggregate,
          }),
        );
        written.push({ id: meta.id, aggregate });
        onWrite?.(written.length);
      }
    }),
  );
  return written;
}

const unsent = (world: World) =>
  sql<{ n: number }>`select count(*)::int as n from event_outbox where sent_at is null`
    .execute(world.db.kysely)
    .then((r) => r.rows[0]?.n ?? -1);

function expectExactlyOnceInOrder(
  published: { id: string; aggregate: string }[],
  written: { id: string; aggregate: string }[],
) {
  const ids = published.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual(written.map((w) => w.id).sort());
  const byAggregate = (list: { id: string; aggregate: string }[]) => {
    const map = new Map<string, string[]>();
    for (const e of list) map.set(e.aggregate, [...(map.get(e.aggregate) ?? []), e.id]);
    return map;
  };
  const got = byAggregate(published);
  for (const [aggregate, ids] of byAggregate(written)) expect(got.get(aggregate)).toEqual(ids);
}

describe("crashes and outages", () => {
  it("loses, duplicates and reorders nothing when the relay is SIGKILLed under 2,000 writes", async () => {
    await using world = await backbone();
    const env = {
      ROLE: "relay",
      DATABASE_URL: world.database.url,
      NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      DOMAIN: world.domain,
      STREAM: world.stream,
    };
    let relay = await startWorker(env);
    let kills = 0;
    // Restarts run one after another, each killing the relay the previous one started.
    let restarts = Promise.resolve();
    const written = await writeMany(world, 2_000, 16, (n) => {
      if (n === 500 || n === 1_200) {
        restarts = restarts.then(async () => {
          await kill(relay);
          kills++;
          relay = await startWorker(env);
        });
      }
    });
    await restarts;
    expect(kills).toBe(2);
    await until(
      () => unsent(world),
      (n) => n === 0,
    );
    await kill(relay, "SIGTERM");
    expectExactlyOnceInOrder(await world.streamIds(), written);
  });

  it("keeps accepting writes while NATS is down and delivers each once when it returns", async () => {
    await using server = await TestNatsServer.start();
    await using world = await backbone({ natsUrl: server.url });
    await using relay = new OutboxRelay({
      db: world.db,
      connection: { url: world.database.url },
      publisher: jetStreamPublisher(world.nats),
      logger,
      pollIntervalMs: 50,
      publishTimeoutMs: 1_000,
    });
    relay.start();
    await using consumer = new EventConsumer(
      {
        name: "effects",
        stream: world.stream,
        event: world.event,
        handle: async (e, trx) => {
          await sql`insert into effect (event_id, post_id) values (${e.metadata.id}, ${e.message.postId})`.execute(
            trx,
          );
        },
      },
      { db: world.db, nats: world.nats, logger, ackWaitMs: 2_000 },
    );
    consumer.start();

    const before = await writeMany(world, 100, 4);
    await server.stop("SIGKILL");
    const during = await writeMany(world, 300, 8);
    expect(await unsent(world)).toBeGreaterThan(0);
    await server.start();
    const after = await writeMany(world, 100, 4);

    await until(
      () => unsent(world),
      (n) => n === 0,
    );
    const written = [...before, ...during, ...after];
    const counts = await until(
      () =>
        sql<{
          event_id: string;
          n: number;
        }>`select event_id, count(*)::int as n from effect group by event_id`
          .execute(world.db.kysely)
          .then((r) => r.rows),
      (rows) => rows.length === written.length,
    );
    expect(counts.every((r) => r.n === 1)).toBe(true);
    expectExactlyOnceInOrder(await world.streamIds(), written);
  });

  it("applies an event once when its consumer is SIGKILLed mid-batch and it is redelivered", async () => {
    await using world = await backbone();
    await using relay = new OutboxRelay({
      db: world.db,
      connection: { url: world.database.url },
      publisher: jetStreamPublisher(world.nats),
      logger,
      pollIntervalMs: 50,
    });
    relay.start();
    const env = {
      ROLE: "consumer",
      DATABASE_URL: world.database.url,
      NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
      DOMAIN: world.domain,
      STREAM: world.stream,
      HANDLER_MS: "40",
    };
    let consumer = await startWorker(env);
    const written = await writeMany(world, 120, 4);
    await relay.flush();
    const effects = () =>
      sql<{
        n: number;
        distinct: number;
      }>`select count(*)::int as n, count(distinct event_id)::int as distinct from effect`
        .execute(world.db.kysely)
        .then((r) => r.rows[0] ?? { n: 0, distinct: 0 });
    await until(effects, (e) => e.n >= 20);
    await kill(consumer);
    consumer = await startWorker(env);
    const done = await until(effects, (e) => e.distinct === written.length);
    await kill(consumer, "SIGTERM");
    expect(done.n).toBe(written.length);
  });
});
