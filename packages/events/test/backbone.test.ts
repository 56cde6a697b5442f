import { waitUntil } from "@kindred/testing";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { sql } from "kysely";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  EventConsumer,
  listDeadLetters,
  Outbox,
  replayDeadLetters,
  toHeaders,
} from "../src/index.ts";
import { backbone, logger, relayFor } from "./helpers.ts";

const outbox = new Outbox("content");
const circleId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
const authorId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11";

function post(postId: string) {
  return { postId, circleId, authorId, body: `body of ${postId}`, version: 1n };
}

describe("outbox and relay", () => {
  it("publishes a committed event exactly once and nothing of a rolled-back one", async () => {
    await using world = await backbone();
    const registry = new Registry();
    await using relay = relayFor(world, { registry, pollIntervalMs: 100 });
    relay.start();

    await world.db
      .transaction(async (trx) => {
        await outbox.enqueue(trx, world.event, post("rolled-back"), {
          actorId: authorId,
          aggregateId: "rolled-back",
        });
        throw new Error("business rule failed");
      })
      .catch(() => {});
    const committed = await world.db.transaction((trx) =>
      outbox.enqueue(trx, world.event, post("p1"), {
        actorId: authorId,
        aggregateId: "p1",
        correlationId: "corr-1",
      }),
    );
    await relay.flush();

    expect(await world.streamIds()).toEqual([{ id: committed.id, aggregate: "p1" }]);
    const stored = await world.jsm.streams.getMessage(world.stream, { seq: 1 });
    expect(stored?.header.get("Kindred-Event-Type")).toBe(`${world.domain}.post.created`);
    expect(stored?.header.get("Kindred-Correlation-Id")).toBe("corr-1");
    expect(stored?.header.get("Kindred-Producer")).toBe("content");
    expect(stored?.header.get("Nats-Msg-Id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    const metrics = await registry.metrics();
    expect(metrics).toContain("kindred_outbox_published_total 1");
    expect(metrics).toContain("kindred_outbox_backlog 0");
    expect(relay.status().role).toBe("leader");
  });

  it("accepts only a transaction", async () => {
    await using world = await backbone();
    await expect(
      outbox.enqueue(world.db.kysely as never, world.event, post("x"), {
        actorId: authorId,
        aggregateId: "x",
      }),
    ).rejects.toThrow("Outbox.enqueue needs the caller's transaction, not a connection");
  });

  it("lets one of two relays publish, and the other take over, without loss or reordering", async () => {
    await using world = await backbone();
    const a = relayFor(world);
    await using b = relayFor(world);
    a.start();
    b.start();
    const written: { id: string; aggregate: string }[] = [];
    const write = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const aggregate = `agg-${i % 10}`;
        const meta = await world.db.transaction((trx) =>
          outbox.enqueue(trx, world.event, post(aggregate), {
            actorId: authorId,
            aggregateId: aggregate,
          }),
        );
        written.push({ id: meta.id, aggregate });
      }
    };
    await write(150);
    await (a.status().role === "leader" ? a : b).flush();
    const leader = a.status().role === "leader" ? a : b;
    const standby = leader === a ? b : a;
    expect(standby.status().role).toBe("standby");

    await leader[Symbol.asyncDispose]();
    await write(150);
    await standby.flush();
    expect(standby.status().role).toBe("leader");

    const published = await world.streamIds();
    expect(published.map((p) => p.id).sort()).toEqual(written.map((w) => w.id).sort());
    for (let i = 0; i < 10; i++) {
      const aggregate = `agg-${i}`;
      expect(published.filter((p) => p.aggregate === aggregate).map((p) => p.id)).toEqual(
        written.filter((w) => w.aggregate === aggregate).map((w) => w.id),
      );
    }
    await a[Symbol.asyncDispose]();
  });
});

describe("consumer", () => {
  it("applies each event once, dead-letters a poison event after N attempts without holding others up, and replays it", async () => {
    await using world = await backbone();
    await using relay = relayFor(world);
    relay.start();
    let poisoned = true;
    const registry = new Registry();
    await using consumer = new EventConsumer(
      {
        name: "scan",
        stream: world.stream,
        event: world.event,
        handle: async (event, trx) => {
          if (event.message.postId === "poison" && poisoned)
            throw new Error("classifier rejected it");
          await sql`insert into effect (event_id, post_id) values (${event.metadata.id}, ${event.message.postId})`.execute(
            trx,
          );
        },
      },
      {
        db: world.db,
        nats: world.nats,
        logger,
        registry,
        maxDeliveries: 3,
        backoff: { initialMs: 20, maxMs: 100 },
      },
    );
    consumer.start();

    for (const id of ["a", "poison", "b", "c"]) {
      await world.db.transaction((trx) =>
        outbox.enqueue(trx, world.event, post(id), { actorId: authorId, aggregateId: id }),
      );
    }
    await relay.flush();

    const effects = () =>
      sql<{ post_id: string }>`select post_id from effect order by post_id`
        .execute(world.db.kysely)
        .then((r) => r.rows.map((x) => x.post_id));
    expect(await waitUntil(effects, (e) => e.length === 3)).toEqual(["a", "b", "c"]);
    const letters = await waitUntil(
      () => listDeadLetters(world.db),
      (l) => l.length === 1,
    );
    expect(letters[0]).toMatchObject({
      consumer: "scan",
      subject: world.event.subject,
      attempts: 3,
      error: "classifier rejected it",
    });
    expect(letters[0]?.headers["Kindred-Aggregate-Id"]).toBe("poison");
    expect(letters[0]?.payload.length).toBeGreaterThan(0);
    expect(await registry.metrics()).toContain(
      'kindred_events_dead_letters_total{consumer="scan"} 1',
    );

    poisoned = false;
    const [result] = await replayDeadLetters(world.db, [consumer], { all: true });
    expect(result).toMatchObject({ outcome: "applied" });
    expect(await effects()).toEqual(["a", "b", "c", "poison"]);
    expect(await listDeadLetters(world.db)).toEqual([]);

    // Replaying again, or a redelivery, changes nothing: the inbox has the event.
    expect(await replayDeadLetters(world.db, [consumer], { id: result?.id ?? "" })).toMatchObject([
      { outcome: "duplicate" },
    ]);
    expect(await effects()).toEqual(["a", "b", "c", "poison"]);
  });

  it("dead-letters an event of a newer major version at once, with the reason", async () => {
    await using world = await backbone();
    await using consumer = new EventConsumer(
      { name: "scan", stream: world.stream, event: world.event, handle: async () => {} },
      { db: world.db, nats: world.nats, logger, maxDeliveries: 5 },
    );
    consumer.start();
    const meta = {
      id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b99",
      type: world.event.name,
      version: 2,
      producer: "content",
      occurredAt: new Date(),
      actorId: authorId,
      aggregateType: "post",
      aggregateId: "p9",
      correlationId: "c",
    };
    const h = natsHeaders();
    for (const [k, v] of Object.entries(toHeaders(meta, "kindred.content.events.v2.PostCreated")))
      h.set(k, v);
    await (await world.nats.connected()).publish(world.event.subject, new Uint8Array([1, 2, 3]), {
      headers: h,
    });
    const letters = await waitUntil(
      () => listDeadLetters(world.db),
      (l) => l.length > 0,
      { timeoutMs: 10_000, what: "a dead letter" },
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]?.attempts).toBe(1);
    expect(letters[0]?.error).toBe(
      `event ${world.event.name} v2 is newer than this consumer knows (v1); not guessing at it`,
    );
  });
});
