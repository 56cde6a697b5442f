import { waitUntil } from "@kindred/testing";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import {
  deleteOldInboxEntries,
  deletePublishedOutboxRows,
  EventConsumer,
  Outbox,
  OutboxRelay,
  republishSince,
} from "../src/index.ts";
import { backbone, logger, relayFor } from "./helpers.ts";

const outbox = new Outbox("content");
const circleId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
const post = (postId: string) => ({ postId, circleId, authorId: circleId, body: "b", version: 1n });
type World = Awaited<ReturnType<typeof backbone>>;

const write = (world: World, id: string) =>
  world.db.transaction((trx) =>
    outbox.enqueue(trx, world.event, post(id), { actorId: "system:test", aggregateId: id }),
  );

describe("operating the outbox", () => {
  it("republishes kept rows since a time, to repair a broker that lost them", async () => {
    await using world = await backbone();
    await using relay = relayFor(world);
    relay.start();
    const first = await write(world, "a");
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 5));
    const second = await write(world, "b");
    const third = await write(world, "c");
    await relay.flush();
    expect((await world.streamIds()).map((e) => e.id)).toEqual([first.id, second.id, third.id]);

    // The broker loses everything (a purge stands in for a crash without fsync) …
    await world.jsm.streams.purge(world.stream);
    expect(await world.streamIds()).toEqual([]);
    // … and the operator re-sends the suspect window, in the original order.
    expect(await republishSince(world.db, cutoff)).toBe(2);
    await relay.flush();
    expect((await world.streamIds()).map((e) => e.id)).toEqual([second.id, third.id]);
  });

  it("deletes published rows once they are past retention, and never unsent ones", async () => {
    await using world = await backbone();
    await write(world, "old");
    await sql`update event_outbox set created_at = now() - interval '2 days'`.execute(
      world.db.kysely,
    );
    {
      await using relay = relayFor(world);
      relay.start();
      await relay.flush();
    }
    await sql`update event_outbox set sent_at = now() - interval '2 days'`.execute(world.db.kysely);
    await write(world, "unsent");
    await using relay = new OutboxRelay({
      db: world.db,
      connection: { url: world.database.url },
      // Publishing fails, so the new row stays unsent while the cleanup runs.
      publisher: { publish: () => Promise.reject(new Error("broker down")) },
      logger,
      pollIntervalMs: 20,
      retentionMs: 86_400_000,
      cleanupIntervalMs: 0,
    });
    relay.start();
    const rows = async () =>
      (
        await sql<{
          agg: string;
          sent: boolean;
        }>`select aggregate_key as agg, sent_at is not null as sent from event_outbox`.execute(
          world.db.kysely,
        )
      ).rows;
    await waitUntil(rows, (r) => r.length <= 1, { timeoutMs: 10_000, what: "the cleanup" });
    expect(await rows()).toEqual([{ agg: "post:unsent", sent: false }]);
  });

  it("trims outbox and inbox by age, as a scheduled job does, leaving what is recent or unsent", async () => {
    await using world = await backbone();
    await write(world, "old-sent");
    await write(world, "recent-sent");
    await write(world, "old-unsent");
    await sql`update event_outbox set sent_at = now() - interval '3 days' where aggregate_key = 'post:old-sent'`.execute(
      world.db.kysely,
    );
    await sql`update event_outbox set sent_at = now() where aggregate_key = 'post:recent-sent'`.execute(
      world.db.kysely,
    );
    await sql`update event_outbox set created_at = now() - interval '3 days' where aggregate_key = 'post:old-unsent'`.execute(
      world.db.kysely,
    );
    await sql`insert into event_inbox (consumer, event_id, handled_at) values
      ('c', '00000000-0000-4000-8000-000000000001', now() - interval '9 days'),
      ('c', '00000000-0000-4000-8000-000000000002', now())`.execute(world.db.kysely);

    expect(await deletePublishedOutboxRows(world.db, 86_400_000)).toBe(1);
    expect(await deleteOldInboxEntries(world.db, 8 * 86_400_000)).toBe(1);
    const outboxLeft = await sql<{
      agg: string;
    }>`select aggregate_key as agg from event_outbox order by agg`.execute(world.db.kysely);
    expect(outboxLeft.rows.map((r) => r.agg)).toEqual(["post:old-unsent", "post:recent-sent"]);
    const inboxLeft = await sql<{ id: string }>`select event_id as id from event_inbox`.execute(
      world.db.kysely,
    );
    expect(inboxLeft.rows).toEqual([{ id: "00000000-0000-4000-8000-000000000002" }]);
  });

  it("continues the trace from the request that wrote the event to the consumer's span", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    try {
      await using world = await backbone();
      await using relay = relayFor(world);
      relay.start();
      let handled: (() => void) | undefined;
      const done = new Promise<void>((resolve) => {
        handled = resolve;
      });
      await using consumer = new EventConsumer(
        {
          name: "traced",
          stream: world.stream,
          event: world.event,
          handle: async () => handled?.(),
        },
        { db: world.db, nats: world.nats, logger },
      );
      consumer.start();

      const traceId = await trace.getTracer("test").startActiveSpan("CreatePost", async (span) => {
        await write(world, "traced");
        span.end();
        return span.spanContext().traceId;
      });
      await done;
      await consumer.idle();
      const spans = exporter.getFinishedSpans();
      const request = spans.find((s) => s.name === "CreatePost");
      const publish = spans.find((s) => s.name.startsWith("publish "));
      const processed = spans.find((s) => s.name.startsWith("process "));
      expect(publish?.spanContext().traceId).toBe(traceId);
      expect(publish?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
      expect(processed?.spanContext().traceId).toBe(traceId);
      expect(processed?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    } finally {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    }
  });
});
