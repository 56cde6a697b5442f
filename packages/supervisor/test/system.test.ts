import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createTestSigner, type TestSigner } from "@kindred/auth/testing";
import { CircleService, Visibility } from "@kindred/proto/circles/v1";
import { PostService } from "@kindred/proto/content/v1";
import { closedPort, databaseUrlFor, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { Supervisor, services } from "../src/index.ts";

// Runs the built services (`node dist/main.js`), exactly as `npm start` does: build first.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const prefix = uniqueName("ksys");
let signer: TestSigner;
const output: string[] = [];
const notices: string[] = [];
let supervisor: Supervisor;

beforeAll(async () => {
  signer = await createTestSigner();
  const ports: Record<string, { port: number; healthPort: number }> = {};
  for (const spec of services)
    ports[spec.name] = { port: await closedPort(), healthPort: await closedPort() };
  supervisor = new Supervisor({
    root,
    env: {
      ...process.env,
      DATABASE_URL: testEnv.databaseUrl,
      REDIS_URL: testEnv.redisUrl,
      NATS_URL: testEnv.natsUrl,
      LOG_LEVEL: "info",
      SHUTDOWN_TIMEOUT_MS: "5000",
      // Its own subjects and streams, and a key the services trust until identity issues tokens.
      EVENTS_NAMESPACE: prefix,
      AUTH_JWKS: signer.jwks,
      OUTBOX_POLL_INTERVAL_MS: "200",
    },
    sink: (name, line) => output.push(`${name} | ${line}`),
    notice: (message) => notices.push(message),
    ports,
    databasePrefix: prefix,
    restart: { initialMs: 100, maxMs: 1_000, stableMs: 60_000 },
  });
});

afterAll(async () => {
  await supervisor.stop();
  const admin = new pg.Client({ connectionString: testEnv.databaseUrl });
  await admin.connect();
  for (const spec of services.filter((s) => s.database)) {
    await admin.query(`DROP DATABASE IF EXISTS "${prefix}_${spec.name}" WITH (FORCE)`);
  }
  await admin.end();
  // The streams the services created under this run's namespace.
  const nc = await connect({ servers: testEnv.natsUrl });
  const jsm = await jetstreamManager(nc);
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`${prefix.toUpperCase()}_`)) await jsm.streams.delete(name);
  }
  await nc.close();
});

describe("the whole system", () => {
  // The whole system on 2 cores: seven processes migrate, start and settle; more than the
  // default 30 s when the machine is busy.
  it("migrates, starts all seven, carries a post end to end, restarts a crashed one, and stops them all with exit 0", async () => {
    await supervisor.migrate();
    supervisor.start();
    await supervisor.waitReady(AbortSignal.timeout(60_000));

    const gateway = await fetch(`${supervisor.gatewayUrl}/readyz`);
    expect(gateway.status).toBe(200);
    const body = (await gateway.json()) as { checks: Record<string, { status: string }> };
    expect(Object.keys(body.checks).sort()).toEqual(
      [
        "circles",
        "content",
        "identity",
        "moderation",
        "nats",
        "notifier",
        "realtime",
        "redis",
        "session-revocations",
      ].sort(),
    );

    // Each service owns its database, migrated by its own `migrate` command.
    const content = new pg.Client({
      connectionString: databaseUrlFor(testEnv.databaseUrl, `${prefix}_content`),
    });
    await content.connect();
    const migrated = await content.query(
      "select to_regclass('kysely_migration') is not null as ok",
    );
    expect(migrated.rows[0].ok).toBe(true);
    await content.end();

    await walkingSkeleton();

    // A crash is noticed and the service comes back by itself.
    const before = supervisor.pids().circles;
    process.kill(before as number, "SIGKILL");
    await waitFor(() => (supervisor.pids().circles !== before ? true : undefined), {
      what: "restart",
    });
    expect(
      notices.some((n) =>
        /^circles exited unexpectedly \(signal SIGKILL\); restarting in \d+ ms$/.test(n),
      ),
    ).toBe(true);
    await supervisor.waitReady(AbortSignal.timeout(30_000));

    const exits = await supervisor.stop();
    expect(exits).toEqual(
      Object.fromEntries(services.map((s) => [s.name, { code: 0, signal: null }])),
    );
    for (const spec of services) {
      expect(
        output.some((l) => l.startsWith(`${spec.name} |`) && l.includes('"msg":"stopped"')),
      ).toBe(true);
    }
  }, 120_000);

  it("refuses to start a service with a bad configuration, naming every bad variable", async () => {
    const child = spawn(process.execPath, ["dist/main.js"], {
      cwd: path.join(root, "services", "identity"),
      env: {
        PATH: process.env.PATH,
        KINDRED_ENV: "production",
        PORT: "http",
        NATS_URL: "nats://127.0.0.1:4222",
        REDIS_URL: "redis://127.0.0.1:6379",
        IDENTITY_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("base64"),
        IDENTITY_PII_KEY: Buffer.alloc(32, 2).toString("base64"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    const [code] = await once(child, "exit");
    expect(code).toBe(78);
    expect(stderr).toBe(
      'kindred-identity: invalid configuration: PORT must be an integer from 0 to 65535, got "http"; DATABASE_URL is required\n',
    );
    expect(stdout).toBe("");
  });
});

/**
 * The walking skeleton of issue 3, through real processes: a post created through the gateway
 * reaches a WebSocket client subscribed to its circle (through the gateway too), moderation's
 * scan queue and notifier's delivery log.
 */
async function walkingSkeleton() {
  const userId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11";
  const token = await signer.mint({ sub: userId });
  const transport = createConnectTransport({ baseUrl: supervisor.gatewayUrl, httpVersion: "1.1" });
  const auth = { headers: { authorization: `Bearer ${token}` } };
  // A circle made through circles: its owner's membership reaches content by event.
  const { circle } = await createClient(CircleService, transport).createCircle(
    { name: "Walking skeleton", description: "", visibility: Visibility.OPEN },
    auth,
  );
  const circleId = circle?.id ?? "";
  const wsUrl = `${supervisor.gatewayUrl.replace(/^http/, "ws")}/v1/realtime`;
  const socket = new WebSocket(wsUrl, "kindred.v1.json", {
    headers: { authorization: `Bearer ${token}` },
  });
  const frames: Record<string, unknown>[] = [];
  socket.on("message", (data) => frames.push(JSON.parse(String(data))));
  await once(socket, "open");
  socket.send(JSON.stringify({ subscribe: { channel: `circle:${circleId}` } }));
  await waitFor(() => frames.find((f) => "subscribed" in f), { what: "subscribed frame" });

  const { post } = await createClient(PostService, transport).createPost(
    { circleId, body: "Today was hard, but I am here." },
    auth,
  );
  const postId = post?.id ?? "";
  expect(postId).toMatch(/^[0-9a-f-]{36}$/);

  const frame = (await waitFor(
    () =>
      frames.find(
        (f) =>
          (f as { event?: { postCreated?: { id?: string } } }).event?.postCreated?.id === postId,
      ),
    { what: "post frame", timeoutMs: 20_000 },
  )) as { event: { channel: string; cursor: string } };
  expect(frame.event.channel).toBe(`circle:${circleId}`);
  expect(frame.event.cursor).not.toBe("");
  socket.close();

  const rowIn = async (service: string, table: string, column: string) => {
    const db = new pg.Client({
      connectionString: databaseUrlFor(testEnv.databaseUrl, `${prefix}_${service}`),
    });
    await db.connect();
    try {
      return await waitFor(
        async () => {
          const { rows } = await db.query(`select * from ${table} where ${column} = $1`, [postId]);
          return rows.length > 0 ? rows : undefined;
        },
        { what: `${table} row`, timeoutMs: 20_000 },
      );
    } finally {
      await db.end();
    }
  };
  // Moderation recorded the post and its scanner looked at it (a quiet post opens no case).
  expect(await rowIn("moderation", "content_item", "content_id")).toMatchObject([
    { content_kind: "post", author_id: userId },
  ]);
  expect(await rowIn("notifier", "delivery_decision", "subject_id")).toMatchObject([
    { decision: "skip" },
  ]);
}
