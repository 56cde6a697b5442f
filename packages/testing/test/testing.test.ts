import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  canConnect,
  closedPort,
  createTestDatabase,
  TcpProxy,
  testEnv,
  uniqueName,
  uniqueStreamNames,
  waitFor,
} from "../src/index.ts";

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe("testing helpers", () => {
  it("makes unique, identifier-safe names", () => {
    const a = uniqueName("My-Test");
    expect(a).toMatch(/^my_test_[a-z0-9]+_[0-9a-f]{8}$/);
    expect(uniqueName("x")).not.toBe(uniqueName("x"));
  });

  it("makes JetStream names that NATS accepts and that never overlap", async () => {
    const { jetstreamManager, StorageType } = await import("@nats-io/jetstream");
    const { connect } = await import("@nats-io/transport-node");
    const a = uniqueStreamNames("content");
    const b = uniqueStreamNames("content");
    expect(a.stream).toMatch(/^CONTENT_[A-Z0-9_]+$/);
    expect(a.subjectPrefix.startsWith(b.subjectPrefix)).toBe(false);
    const nc = await connect({ servers: testEnv.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: a.stream,
        subjects: [`${a.subjectPrefix}>`],
        storage: StorageType.Memory,
      });
      expect((await jsm.streams.info(a.stream)).config.subjects).toEqual([`${a.subjectPrefix}>`]);
      await jsm.streams.delete(a.stream);
    } finally {
      await nc.close();
    }
  });

  it("creates a fresh database and drops it on dispose, even with a connection left open", async () => {
    let name: string;
    let leaked: pg.Client;
    {
      await using db = await createTestDatabase("helper");
      name = db.name;
      expect(await query(db.url, "select current_database() as name")).toEqual([{ name }]);
      leaked = new pg.Client({ connectionString: db.url });
      leaked.on("error", () => {});
      await leaked.connect();
    }
    const rows = await query(
      testEnv.databaseUrl,
      `select 1 from pg_database where datname = '${name}'`,
    );
    expect(rows).toEqual([]);
  });

  it("gives a port nothing listens on", async () => {
    expect(await canConnect(await closedPort())).toBe(false);
  });

  it("forwards to a real server while open and cuts connections when closed", async () => {
    await using proxy = await TcpProxy.create(testEnv.databaseUrl);
    expect(await canConnect(proxy.port)).toBe(false);
    await proxy.open();
    const url = new URL(testEnv.databaseUrl);
    url.port = String(proxy.port);
    expect(await query(url.toString(), "select 1 as one")).toEqual([{ one: 1 }]);

    const held = new pg.Client({ connectionString: url.toString() });
    const ended = new Promise((resolve) => held.on("error", resolve));
    await held.connect();
    await proxy.close();
    expect(proxy.isOpen).toBe(false);
    await ended;
    expect(await canConnect(proxy.port)).toBe(false);

    await proxy.open();
    expect(await query(url.toString(), "select 2 as two")).toEqual([{ two: 2 }]);
  });

  it("waits for a condition and reports what it waited for on timeout", async () => {
    let calls = 0;
    expect(await waitFor(() => (++calls >= 3 ? "done" : undefined), { intervalMs: 1 })).toBe(
      "done",
    );
    await expect(
      waitFor(() => undefined, { timeoutMs: 20, intervalMs: 5, what: "the moon" }),
    ).rejects.toThrow("timed out after 20 ms waiting for the moon");
  });
});
