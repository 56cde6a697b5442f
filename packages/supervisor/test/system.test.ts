import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { closedPort, databaseUrlFor, testEnv, uniqueName, waitFor } from "@kindred/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Supervisor, services } from "../src/index.ts";

// Runs the built services (`node dist/main.js`), exactly as `npm start` does: build first.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const prefix = uniqueName("ksys");
const output: string[] = [];
const notices: string[] = [];
let supervisor: Supervisor;

beforeAll(async () => {
  const ports: Record<string, { port: number; healthPort: number }> = {};
  for (const spec of services)
    ports[spec.name] = { port: await closedPort(), healthPort: await closedPort() };
  supervisor = new Supervisor({
    root,
    env: {
      ...process.env,
      ...testEnv,
      DATABASE_URL: testEnv.databaseUrl,
      LOG_LEVEL: "info",
      SHUTDOWN_TIMEOUT_MS: "5000",
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
});

describe("the whole system", () => {
  it("migrates, starts all seven, restarts a crashed one, and stops them all with exit 0", async () => {
    await supervisor.migrate();
    supervisor.start();
    await supervisor.waitReady(AbortSignal.timeout(60_000));

    const gateway = await fetch(`${supervisor.gatewayUrl}/readyz`);
    expect(gateway.status).toBe(200);
    const body = (await gateway.json()) as { checks: Record<string, { status: string }> };
    expect(Object.keys(body.checks).sort()).toEqual(
      ["circles", "content", "identity", "moderation", "notifier", "realtime", "redis"].sort(),
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
  });

  it("refuses to start a service with a bad configuration, naming every bad variable", async () => {
    const child = spawn(process.execPath, ["dist/main.js"], {
      cwd: path.join(root, "services", "identity"),
      env: {
        PATH: process.env.PATH,
        KINDRED_ENV: "production",
        PORT: "http",
        NATS_URL: "nats://127.0.0.1:4222",
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
