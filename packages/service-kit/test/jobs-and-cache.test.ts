import { loadServiceConfig } from "@kindred/config";
import { type EventTables, eventMigrations } from "@kindred/events";
import { createTestDatabase, uniqueName, waitUntil } from "@kindred/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { ServiceKit, startReady, testServiceEnv } from "../src/index.ts";

interface Schema {
  tick: { id: number };
}

describe("ServiceKit jobs and cache", () => {
  it("starts jobs once migrated and stops them before the database closes", async () => {
    await using db = await createTestDatabase("kit_jobs");
    const config = loadServiceConfig(
      { defaults: { name: "kit", port: 0, healthPort: 0 }, uses: { database: true, redis: true } },
      testServiceEnv({ database: { serverUrl: db.serverUrl, name: db.name } }),
    );
    const kit = new ServiceKit(config.server);
    const database = kit.postgres<Schema>(config.database, {
      "20261126T1000_create_tick": {
        up: async (k) => {
          await k.schema
            .createTable("tick")
            .addColumn("id", "serial", (c) => c.primaryKey())
            .execute();
        },
      },
    });
    const jobs = kit.jobs(database);
    let runs = 0;
    let lastRunWrote = false;
    jobs.schedule({
      name: "tick",
      everyMs: 20,
      runAtStart: true,
      run: async (signal) => {
        runs++;
        // Fails (and would be counted) if it ran before the migration created the table.
        await sql`insert into tick default values`.execute(database.kysely);
        if (runs < 3) return { ticked: 1 };
        // The third run is in flight at shutdown: it ends after its signal, still able to write.
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        await sql`insert into tick default values`.execute(database.kysely);
        lastRunWrote = true;
        return { ticked: 2 };
      },
    });
    const redis = kit.redis(config.redis);
    const cache = kit.cache(redis, { name: "profiles", prefix: uniqueName("kt_kit") });
    const host = kit.host({ readinessCacheMs: 0 });
    await startReady(host);
    try {
      await waitUntil(
        async () => runs,
        (n) => n === 3,
        { what: "the third run" },
      );
      await redis.whenReady();
      const load = async () => ({ name: "Ada" });
      await cache.getOrLoad({ key: "user:1", ttlSeconds: 60 }, load);
      await cache.getOrLoad({ key: "user:1", ttlSeconds: 60 }, load);

      const readyz = (await (await fetch(`${host.healthUrl}/readyz`)).json()) as {
        checks: Record<string, { status: string }>;
      };
      expect(readyz.checks.jobs?.status).toBe("up");
      const metrics = await (await fetch(`${host.healthUrl}/metrics`)).text();
      expect(metrics).toMatch(/kindred_job_runs_total\{[^}]*job="tick",outcome="ok"[^}]*\} 2/);
      expect(metrics).toMatch(/kindred_job_runs_total\{[^}]*job="tick",outcome="failed"[^}]*\} 0/);
      expect(metrics).toMatch(
        /kindred_cache_requests_total\{[^}]*cache="profiles",outcome="hit"[^}]*\} 1/,
      );
    } finally {
      await host.stop();
    }
    expect(lastRunWrote).toBe(true);
    expect(jobs.status()[0]).toMatchObject({ lastOutcome: "ok", running: false });
  });
  it("trims the outbox and inbox of a service on the event backbone as scheduled jobs", async () => {
    await using db = await createTestDatabase("kit_retention");
    const namespace = uniqueName("kit");
    const config = loadServiceConfig(
      { defaults: { name: "kit", port: 0, healthPort: 0 }, uses: { database: true, events: true } },
      testServiceEnv({
        database: { serverUrl: db.serverUrl, name: db.name },
        extra: { EVENTS_NAMESPACE: namespace },
      }),
    );
    const kit = new ServiceKit(config.server);
    const database = kit.postgres<EventTables>(config.database, eventMigrations);
    const nats = kit.nats(config.nats, { critical: false });
    kit.events({ settings: config.events, database: config.database, db: database, nats });
    const jobs = kit.jobs(database);
    const host = kit.host();
    await startReady(host);
    try {
      expect(
        jobs
          .status()
          .map((j) => j.name)
          .sort(),
      ).toEqual(["inbox-retention", "outbox-retention"]);
      await sql`insert into event_inbox (consumer, event_id, handled_at) values
        ('c', '00000000-0000-4000-8000-000000000001', now() - interval '9 days'),
        ('c', '00000000-0000-4000-8000-000000000002', now())`.execute(database.kysely);
      expect(await jobs.runNow("inbox-retention")).toMatchObject({
        outcome: "ok",
        items: { deleted: 1 },
      });
      expect(await jobs.runNow("outbox-retention")).toMatchObject({ outcome: "ok" });
    } finally {
      await host.stop();
    }
  });
});
