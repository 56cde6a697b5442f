import { Database, runMigrations } from "@kindred/database";
import { NatsClient } from "@kindred/nats";
import { createTestDatabase, testEnv, uniqueName } from "@kindred/testing";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { sql } from "kysely";
import {
  applyTopology,
  eventMigrations,
  eventNamespace,
  Outbox,
  type StreamSpec,
  streamIn,
  subjectIn,
} from "../src/index.ts";
import { postCreated, producer } from "./fixture.ts";

const warnings = new Map<string, { count: number; first: string }>();

/**
 * Debug and info are dropped; errors go to stderr at once; warnings are counted and summed up
 * at the end (the relay warns "gave up the lease" on every orderly shutdown).
 */
export const logger = {
  debug() {},
  info() {},
  warn(obj: object, msg?: string) {
    const key = msg ?? "(no message)";
    const seen = warnings.get(key);
    if (seen === undefined)
      warnings.set(key, { count: 1, first: JSON.stringify(obj, errorFields) });
    else seen.count++;
  },
  error(obj: object, msg?: string) {
    process.stderr.write(`error: ${msg ?? ""} ${JSON.stringify(obj, errorFields)}\n`);
  },
};

/** Warnings logged so far: each message, how often, and the fields of its first occurrence. */
export function warningSummary(): string[] {
  return [...warnings].map(([msg, { count, first }]) => `${count} × ${msg} (first: ${first})`);
}

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? `${value.name}: ${value.message}` : value;
}

const day = 86_400_000;

/** The content service's stream as `@kindred/event-catalog` declares it (file storage, R1). */
const contentStream: StreamSpec = {
  name: "CONTENT",
  subjects: ["content.>"],
  description: "events bench",
  maxAgeMs: 7 * day,
  maxBytes: 10 * 1024 ** 3,
  duplicateWindowMs: 10 * 60_000,
};

/** The bench's world: its own database with the event tables, its own stream and subjects. */
export interface World extends AsyncDisposable {
  readonly databaseUrl: string;
  /** The service's pool: writers and the relay share it, as in `@kindred/service-kit`. */
  readonly db: Database<unknown>;
  /** The connection the relay (and the raw publisher) publishes on. */
  readonly nats: NatsClient;
  /** A second connection for stream management and the observing subscription. */
  readonly observer: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly outbox: Outbox;
  readonly stream: string;
  readonly subject: string;
  /** Deletes the stream and creates it again, empty. */
  freshStream(): Promise<void>;
  storedMessages(): Promise<number>;
}

function assertLocal(url: string): void {
  const host = new URL(url).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") {
    throw new Error(`the bench only talks to local servers, not ${host}`);
  }
}

export async function createWorld(poolMax: number): Promise<World> {
  assertLocal(testEnv.databaseUrl);
  assertLocal(testEnv.natsUrl);
  const stack = new AsyncDisposableStack();
  try {
    const database = await createTestDatabase("bench");
    stack.defer(() => database.drop());
    const db = stack.use(
      Database.create<unknown>(
        {
          url: database.url,
          poolMax,
          connectTimeoutMs: 5_000,
          statementTimeoutMs: 30_000,
          idleTimeoutMs: 30_000,
          applicationName: "events-bench",
        },
        { logger },
      ),
    );
    await runMigrations(db, eventMigrations, { logger });
    const nats = stack.use(
      new NatsClient(
        { servers: [testEnv.natsUrl], token: undefined, connectTimeoutMs: 2_000 },
        { name: "events-bench", logger, initialRetryMs: 50, maxRetryMs: 200 },
      ),
    );
    await nats.connected(AbortSignal.timeout(5_000));
    const observer = await connect({ servers: testEnv.natsUrl, name: "events-bench-observer" });
    stack.defer(() => observer.close());
    const jsm = await jetstreamManager(observer);
    const namespace = eventNamespace(uniqueName("bench"));
    const stream = streamIn(namespace, contentStream.name);
    stack.defer(async () => {
      await jsm.streams.delete(stream).catch(() => false);
    });
    const topology = { namespace, replicas: 1, logger };
    await applyTopology(jsm, [contentStream], topology);
    const world: World = {
      databaseUrl: database.url,
      db,
      nats,
      observer,
      jsm,
      outbox: new Outbox(producer, namespace),
      stream,
      subject: subjectIn(namespace, postCreated.subject),
      async freshStream() {
        await jsm.streams.delete(stream).catch(() => false);
        await applyTopology(jsm, [contentStream], topology);
      },
      async storedMessages() {
        return (await jsm.streams.info(stream)).state.messages;
      },
      [Symbol.asyncDispose]: () => stack.disposeAsync(),
    };
    return world;
  } catch (err) {
    await stack.disposeAsync();
    throw err;
  }
}

/** Server versions and settings that bound the figures. */
export async function describeServers(world: World): Promise<{ postgres: string; nats: string }> {
  const { rows } = await sql<{ name: string; setting: string }>`
    select name, setting from pg_settings
    where name in ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers')`.execute(
    world.db.kysely,
  );
  const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  return {
    postgres: `${settings.server_version} (synchronous_commit=${settings.synchronous_commit}, fsync=${settings.fsync}, wal_sync_method=${settings.wal_sync_method})`,
    nats: `${world.observer.info?.version ?? "?"} (JetStream, file storage, R1)`,
  };
}
