import { setTimeout as sleep } from "node:timers/promises";
import { Database } from "@kindred/database";
import {
  closedPort,
  createTestDatabase,
  recordingLogger,
  type TestDatabase,
  waitUntil,
} from "@kindred/testing";
import { sql } from "kysely";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JobRunner, type JobRunnerOptions } from "../src/index.ts";

let testDb: TestDatabase;
/** Runners and databases of one test, stopped and closed (in reverse order) after it. */
let cleanup: AsyncDisposableStack;

beforeEach(async () => {
  testDb = await createTestDatabase("kt_jobs");
  cleanup = new AsyncDisposableStack();
});

afterEach(async () => {
  await cleanup.disposeAsync();
  await testDb.drop();
});

function open(url = testDb.url): Database<unknown> {
  const db = Database.create<unknown>(
    {
      url,
      poolMax: 4,
      connectTimeoutMs: 1_000,
      statementTimeoutMs: 10_000,
      idleTimeoutMs: 10_000,
      applicationName: "kindred-jobs-test",
    },
    { logger: recordingLogger() },
  );
  cleanup.defer(() => db[Symbol.asyncDispose]());
  return db;
}

/** A runner that is stopped when the test ends (before its database closes). */
function runner(options: Partial<JobRunnerOptions> = {}) {
  const logger = recordingLogger();
  const registry = new Registry();
  const jobs = new JobRunner({ db: open(), logger, registry, service: "svc", ...options });
  cleanup.defer(() => jobs.stop());
  return { jobs, logger, registry };
}

async function sample(registry: Registry, name: string, labels: Record<string, string>) {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

describe("JobRunner", () => {
  it("runs a job on its schedule, one pause after start and after each run", async () => {
    const { jobs, registry } = runner();
    const runs: number[] = [];
    jobs.schedule({
      name: "purge",
      everyMs: 40,
      jitter: 0,
      run: async () => {
        runs.push(performance.now());
        return { purged: 2 };
      },
    });
    const startedAt = performance.now();
    jobs.start();
    await waitUntil(
      async () => runs.length,
      (n) => n >= 3,
      { what: "three runs" },
    );
    await jobs.stop();

    expect((runs[0] ?? 0) - startedAt).toBeGreaterThanOrEqual(35);
    expect((runs[2] ?? 0) - (runs[1] ?? 0)).toBeGreaterThanOrEqual(35);
    expect(await sample(registry, "kindred_job_runs_total", { outcome: "ok" })).toBe(runs.length);
    expect(await sample(registry, "kindred_job_items_total", { kind: "purged" })).toBe(
      2 * runs.length,
    );
    expect(jobs.status()).toEqual([
      expect.objectContaining({ name: "purge", lastOutcome: "ok", running: false }),
    ]);
  });

  it("runs at start when asked to", async () => {
    const { jobs } = runner();
    let runs = 0;
    jobs.schedule({
      name: "sweep",
      everyMs: 60_000,
      runAtStart: true,
      run: async () => void runs++,
    });
    jobs.start();
    await waitUntil(
      async () => runs,
      (n) => n === 1,
      { what: "the first run", timeoutMs: 5_000 },
    );
  });

  it("never runs one job in two replicas at once", async () => {
    const a = runner();
    const b = runner();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const job = {
      name: "escalate",
      everyMs: 5,
      jitter: 0.5,
      runAtStart: true,
      run: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(25);
        active--;
        runs++;
      },
    };
    a.jobs.schedule(job).start();
    b.jobs.schedule(job).start();
    const skipped = async () =>
      (await sample(a.registry, "kindred_job_runs_total", { outcome: "skipped" })) +
      (await sample(b.registry, "kindred_job_runs_total", { outcome: "skipped" }));
    await waitUntil(
      async () => ({ runs, skipped: await skipped() }),
      (s) => s.runs >= 12 && s.skipped >= 3,
      { what: "runs in both replicas and skipped ticks" },
    );
    await Promise.all([a.jobs.stop(), b.jobs.stop()]);
    expect(maxActive).toBe(1);
  });

  it("skips a tick while the lock is held elsewhere or the job runs here", async () => {
    const a = runner();
    const b = runner();
    const other = runner({ service: "other-service" });
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    cleanup.defer(() => release.resolve()); // also when an assertion fails
    const job = {
      name: "cleanup",
      everyMs: 60_000,
      run: async () => {
        entered.resolve();
        await release.promise;
        return { deleted: 1 };
      },
    };
    a.jobs.schedule(job);
    b.jobs.schedule(job);
    other.jobs.schedule({ ...job, run: async () => ({ deleted: 5 }) });

    const first = a.jobs.runNow("cleanup");
    await entered.promise;
    await expect(b.jobs.runNow("cleanup")).resolves.toEqual({
      outcome: "skipped",
      reason: "locked",
    });
    await expect(a.jobs.runNow("cleanup")).resolves.toEqual({
      outcome: "skipped",
      reason: "running",
    });
    // Another service's job of the same name has a lock of its own.
    await expect(other.jobs.runNow("cleanup")).resolves.toMatchObject({ outcome: "ok" });
    release.resolve();
    await expect(first).resolves.toMatchObject({ outcome: "ok", items: { deleted: 1 } });
    await expect(b.jobs.runNow("cleanup")).resolves.toMatchObject({ outcome: "ok" });
  });

  it("loses the lock with its session: a crashed runner does not block the others", async () => {
    const a = runner();
    const b = runner();
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    cleanup.defer(() => release.resolve()); // also when an assertion fails
    a.jobs.schedule({
      name: "expire",
      everyMs: 60_000,
      run: async () => {
        entered.resolve();
        await release.promise;
      },
    });
    b.jobs.schedule({ name: "expire", everyMs: 60_000, run: async () => ({ expired: 1 }) });

    const first = a.jobs.runNow("expire");
    await entered.promise;
    await expect(b.jobs.runNow("expire")).resolves.toMatchObject({ outcome: "skipped" });
    // The holder's session ends as it would when its process is killed.
    const admin = open();
    const { rows } = await sql<{ terminated: boolean }>`
      select pg_terminate_backend(pid) as terminated from pg_locks
      where locktype = 'advisory' and granted
        and database = (select oid from pg_database where datname = current_database())`.execute(
      admin.kysely,
    );
    expect(rows).toEqual([{ terminated: true }]);
    await waitUntil(
      () => b.jobs.runNow("expire"),
      (r) => r.outcome === "ok",
      { what: "the other replica to take the lock" },
    );
    release.resolve();
    await first;
    expect(a.logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", msg: "could not unlock a job" }),
    );
  });

  it("counts and logs a failing job, and runs it again at its next tick", async () => {
    const { jobs, logger, registry } = runner();
    const calls: number[] = [];
    jobs.schedule({
      name: "flaky",
      everyMs: 50,
      jitter: 0,
      runAtStart: true,
      run: async () => {
        calls.push(performance.now());
        if (calls.length === 1) throw new Error("disk on fire");
        return { fixed: 1 };
      },
    });
    jobs.start();
    await waitUntil(
      async () => calls.length,
      (n) => n >= 2,
      { what: "a second run" },
    );
    await jobs.stop();

    expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(45);
    expect(await sample(registry, "kindred_job_runs_total", { outcome: "failed" })).toBe(1);
    expect(await sample(registry, "kindred_job_runs_total", { outcome: "ok" })).toBeGreaterThan(0);
    const failure = logger.entries.find((e) => e.level === "error");
    expect(failure).toMatchObject({
      msg: "job failed; it runs again at its next tick",
      obj: { job: "flaky", err: expect.objectContaining({ message: "disk on fire" }) },
    });
  });

  it("counts a tick whose database is unreachable as failed", async () => {
    const logger = recordingLogger();
    const registry = new Registry();
    const unreachable = `postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`;
    const jobs = new JobRunner({ db: open(unreachable), logger, registry, service: "svc" });
    let runs = 0;
    jobs.schedule({ name: "purge", everyMs: 60_000, run: async () => void runs++ });
    await expect(jobs.runNow("purge")).resolves.toMatchObject({ outcome: "failed" });
    expect(runs).toBe(0);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "error",
        msg: "job could not take its lock; it runs again at its next tick",
      }),
    );
    expect(await sample(registry, "kindred_job_runs_total", { outcome: "failed" })).toBe(1);
  });

  it("stop aborts the run's signal, waits for it to end and releases the lock", async () => {
    const { jobs } = runner();
    const entered = Promise.withResolvers<void>();
    let finished = false;
    let abortedWith: unknown;
    jobs.schedule({
      name: "slow",
      everyMs: 60_000,
      runAtStart: true,
      run: async (signal) => {
        entered.resolve();
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        abortedWith = signal.reason;
        await sleep(50); // finishing the batch in hand
        finished = true;
      },
    });
    jobs.start();
    await entered.promise;
    await jobs.stop();
    expect(finished).toBe(true);
    expect(abortedWith).toBeInstanceOf(Error);
    await expect(jobs.runNow("slow")).resolves.toEqual({ outcome: "skipped", reason: "stopped" });

    const other = runner();
    other.jobs.schedule({ name: "slow", everyMs: 60_000, run: async () => {} });
    await expect(other.jobs.runNow("slow")).resolves.toMatchObject({ outcome: "ok" });
  });

  it("stop gives up on a run that ignores its signal at the deadline", async () => {
    const { jobs, logger } = runner({ stopTimeoutMs: 100 });
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    cleanup.defer(() => release.resolve()); // also when an assertion fails
    jobs.schedule({
      name: "stubborn",
      everyMs: 60_000,
      runAtStart: true,
      run: async () => {
        entered.resolve();
        await release.promise;
      },
    });
    jobs.start();
    await entered.promise;
    const started = performance.now();
    await jobs.stop();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", obj: { jobs: ["stubborn"] } }),
    );
    release.resolve();
    await jobs.idle();
  });

  it("exports its metrics, also with several runners on one registry", async () => {
    const registry = new Registry();
    const first = runner({ registry });
    const second = runner({ registry });
    first.jobs.schedule({ name: "purge", everyMs: 60_000, run: async () => ({ purged: 3 }) });
    second.jobs.schedule({ name: "resend", everyMs: 60_000, run: async () => {} });
    await first.jobs.runNow("purge");
    await second.jobs.runNow("resend");

    const text = await registry.metrics();
    expect(text).toContain('kindred_job_runs_total{job="purge",outcome="ok"} 1');
    expect(text).toContain('kindred_job_runs_total{job="purge",outcome="failed"} 0');
    expect(text).toContain('kindred_job_runs_total{job="resend",outcome="ok"} 1');
    expect(text).toContain('kindred_job_items_total{job="purge",kind="purged"} 3');
    expect(text).toContain('kindred_job_duration_seconds_count{job="purge"} 1');
    expect(text).toMatch(/kindred_job_last_success_timestamp_seconds\{job="purge"\} \d+/);
  });

  it("rejects a bad schedule", () => {
    const { jobs } = runner();
    const run = async () => {};
    expect(() => jobs.schedule({ name: "Bad Name", everyMs: 1, run })).toThrow(RangeError);
    expect(() => jobs.schedule({ name: "zero", everyMs: 0, run })).toThrow(RangeError);
    expect(() => jobs.schedule({ name: "jitter", everyMs: 1, jitter: 2, run })).toThrow(RangeError);
    jobs.schedule({ name: "once", everyMs: 1, run });
    expect(() => jobs.schedule({ name: "once", everyMs: 1, run })).toThrow(/already/);
  });
});
