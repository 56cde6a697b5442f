import { Database, runMigrations } from "@kindred/database";
import { NatsClient } from "@kindred/nats";
import { PostCreatedSchema } from "@kindred/proto/content/events/v1";
import {
  createTestDatabase,
  recordingLogger,
  type TestDatabase,
  testEnv,
  uniqueName,
} from "@kindred/testing";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection, nanos } from "@nats-io/transport-node";
import { sql } from "kysely";
import {
  defineEvent,
  eventMigrations,
  jetStreamPublisher,
  OutboxRelay,
  type RelayOptions,
} from "../src/index.ts";

export const logger = recordingLogger();

/** A test's own world: a database with the event tables, a stream, an event type under it. */
export async function backbone(options: { natsUrl?: string } = {}) {
  const database: TestDatabase = await createTestDatabase("events");
  const natsUrl = options.natsUrl ?? testEnv.natsUrl;
  const domain = uniqueName("ev");
  const stream = domain.toUpperCase();
  const event = defineEvent(PostCreatedSchema, `${domain}.post.created.v1`);
  const db = Database.create<unknown>(
    {
      url: database.url,
      poolMax: 10,
      connectTimeoutMs: 2_000,
      statementTimeoutMs: 10_000,
      idleTimeoutMs: 10_000,
      applicationName: "events-test",
    },
    { logger },
  );
  await runMigrations(
    db,
    {
      ...eventMigrations,
      "20261125T1200_effects": {
        async up(k) {
          await sql`create table effect (event_id uuid not null, post_id text not null, at timestamptz default clock_timestamp())`.execute(
            k,
          );
        },
      },
    },
    { logger },
  );
  const nats = new NatsClient(
    { servers: [natsUrl], token: undefined, connectTimeoutMs: 1_000 },
    { name: "events-test", logger, initialRetryMs: 50, maxRetryMs: 200 },
  );
  nats.start();
  const admin: NatsConnection = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({
    name: stream,
    subjects: [`${domain}.>`],
    storage: StorageType.File,
    duplicate_window: nanos(120_000),
  });
  return {
    database,
    db,
    nats,
    event,
    stream,
    domain,
    jsm,
    admin,
    /** Every event id in the stream, in stream order. */
    async streamIds(): Promise<{ id: string; aggregate: string }[]> {
      // After a NATS restart this admin connection may still be reconnecting: its first JetStream
      // requests can time out while the service's own connection already works again.
      let info: Awaited<ReturnType<typeof jsm.streams.info>> | undefined;
      for (let attempt = 1; info === undefined; attempt++) {
        info = await jsm.streams.info(stream).catch((err: unknown) => {
          if (attempt >= 5) throw err;
          return undefined;
        });
      }
      const out: { id: string; aggregate: string }[] = [];
      for (
        let seq = info.state.first_seq;
        seq <= info.state.last_seq && info.state.messages > 0;
        seq++
      ) {
        const m = await jsm.streams.getMessage(stream, { seq });
        if (m === null) continue;
        out.push({
          id: m.header.get("Kindred-Event-Id"),
          aggregate: m.header.get("Kindred-Aggregate-Id"),
        });
      }
      return out;
    },
    async [Symbol.asyncDispose]() {
      await jsm.streams.delete(stream).catch(() => {});
      await admin.close();
      await nats[Symbol.asyncDispose]();
      await db[Symbol.asyncDispose]();
      await database.drop();
    },
  };
}

/** A relay on a test world's outbox, polling often. */
export function relayFor(
  world: Awaited<ReturnType<typeof backbone>>,
  options: Partial<Omit<RelayOptions, "db" | "connection" | "publisher" | "logger">> = {},
): OutboxRelay {
  return new OutboxRelay({
    db: world.db,
    connection: { url: world.database.url },
    publisher: jetStreamPublisher(world.nats),
    logger,
    pollIntervalMs: 50,
    ...options,
  });
}
