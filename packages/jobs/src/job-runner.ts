import { setTimeout as sleep } from "node:timers/promises";
import type { Database } from "@kindred/database";
import type { Logger } from "@kindred/resilience";
import { sql } from "kysely";
import type { Registry } from "prom-client";
import { type JobMetrics, jobMetrics } from "./job-metrics.ts";

/** What a run may report: how many items of each kind it handled (`{ purged: 12 }`). */
export type JobReport = Record<string, number>;

export interface JobSpec {
  /** Unique within the service: the metrics' `job` label and part of the lock's key. */
  name: string;
  /** The pause between the end of one tick and the start of the next, in each replica. */
  everyMs: number;
  /**
   * Up to this fraction of `everyMs` (0 to 1, default 0.1) is taken off each pause at random,
   * so replicas and jobs started together spread out; a pause is never longer than `everyMs`.
   */
  jitter?: number;
  /** Tick right after start instead of one pause later. */
  runAtStart?: boolean;
  /**
   * Does the work; `signal` aborts when the runner stops (finish or give up quickly). May run
   * in several replicas one after another, and must be safe to repeat (see the ADR 10).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: lets a job be an `async () => {...}` that reports nothing
  run(signal: AbortSignal): Promise<JobReport | void>;
}

export type RunResult =
  | { outcome: "ok"; items: JobReport; durationMs: number }
  | { outcome: "failed"; error: unknown; durationMs: number | undefined }
  | { outcome: "skipped"; reason: "running" | "locked" | "stopped" };

export interface JobStatus {
  name: string;
  everyMs: number;
  running: boolean;
  lastOutcome: RunResult["outcome"] | undefined;
  lastRunAt: string | undefined;
  lastSuccessAt: string | undefined;
  lastError: string | undefined;
}

export interface JobRunnerOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any service database
  db: Database<any>;
  logger: Logger;
  registry?: Registry;
  /** The service's name: jobs of different services never share a lock. */
  service: string;
  /** How long `stop()` waits for runs in flight when given no deadline (default 10 s). */
  stopTimeoutMs?: number;
}

interface Job {
  spec: Required<Omit<JobSpec, "run">> & Pick<JobSpec, "run">;
  lockKey: string;
  inFlight: Promise<RunResult> | undefined;
  loop: Promise<void> | undefined;
  lastOutcome: RunResult["outcome"] | undefined;
  lastRunAt: Date | undefined;
  lastSuccessAt: Date | undefined;
  lastError: string | undefined;
}

/**
 * Runs a service's background jobs (expiry purges, cleanups, re-escalations) on a schedule.
 *
 * - One run of a job at a time across replicas: a run holds a PostgreSQL session advisory
 *   lock, keyed by service and job, on a pooled connection checked out for the run. A replica
 *   that does not get the lock skips that tick; it never waits. A crashed runner's lock is
 *   released with its session.
 * - Runs of one job never overlap within a process either; the next tick is one pause after
 *   the end of the last, so a failing job is retried at its normal pace, never in a hot loop.
 * - `stop()` stops scheduling, aborts the runs' signals and waits for them, up to a deadline.
 */
export class JobRunner {
  readonly #options: JobRunnerOptions;
  readonly #metrics: JobMetrics;
  readonly #jobs = new Map<string, Job>();
  readonly #stop = new AbortController();
  #started = false;

  constructor(options: JobRunnerOptions) {
    this.#options = options;
    this.#metrics = jobMetrics(options.registry);
  }

  /** Adds a job; it starts ticking with `start()` (at once when the runner is started). */
  schedule(spec: JobSpec): this {
    const { name, everyMs, jitter = 0.1, runAtStart = false } = spec;
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(name)) {
      throw new RangeError(`job name must be lowercase letters, digits, _ . -; got "${name}"`);
    }
    if (this.#jobs.has(name)) throw new Error(`job "${name}" is already scheduled`);
    if (!(Number.isFinite(everyMs) && everyMs > 0)) {
      throw new RangeError(`job "${name}": everyMs must be a positive number, got ${everyMs}`);
    }
    if (!(jitter >= 0 && jitter <= 1)) {
      throw new RangeError(`job "${name}": jitter must be between 0 and 1, got ${jitter}`);
    }
    const job: Job = {
      spec: { name, everyMs, jitter, runAtStart, run: spec.run },
      lockKey: `kindred-job:${this.#options.service}:${name}`,
      inFlight: undefined,
      loop: undefined,
      lastOutcome: undefined,
      lastRunAt: undefined,
      lastSuccessAt: undefined,
      lastError: undefined,
    };
    this.#jobs.set(name, job);
    // Every series exists from the first scrape, so rates and alerts need no special case.
    for (const outcome of ["ok", "failed", "skipped"]) {
      this.#metrics.runs.labels(name, outcome).inc(0);
    }
    if (this.#started) job.loop = this.#tickLoop(job);
    return this;
  }

  /** Starts ticking every scheduled job; idempotent. */
  start(): void {
    if (this.#stop.signal.aborted) throw new Error("a stopped job runner cannot start again");
    if (this.#started) return;
    this.#started = true;
    for (const job of this.#jobs.values()) job.loop = this.#tickLoop(job);
  }

  /**
   * Runs a job now, outside its schedule (tests, operators), under the same lock: skipped when
   * it is running here or in another replica, or when the runner has stopped.
   */
  runNow(name: string): Promise<RunResult> {
    const job = this.#jobs.get(name);
    if (job === undefined) return Promise.reject(new Error(`no job "${name}" is scheduled`));
    return this.#attempt(job);
  }

  /** Resolves when the runs in flight now have ended (tests' idle hook). */
  async idle(): Promise<void> {
    await Promise.all([...this.#jobs.values()].map((job) => job.inFlight));
  }

  status(): JobStatus[] {
    return [...this.#jobs.values()].map((job) => ({
      name: job.spec.name,
      everyMs: job.spec.everyMs,
      running: job.inFlight !== undefined,
      lastOutcome: job.lastOutcome,
      lastRunAt: job.lastRunAt?.toISOString(),
      lastSuccessAt: job.lastSuccessAt?.toISOString(),
      lastError: job.lastError,
    }));
  }

  /**
   * Stops scheduling, aborts the signal of every run in flight and waits for them to end, until
   * `deadline` aborts or `stopTimeoutMs` passes; a run still going then is logged and left
   * behind (its lock goes when the pool closes its connection).
   */
  async stop(deadline?: AbortSignal): Promise<void> {
    this.#stop.abort(new Error("job runner stopping"));
    const jobs = [...this.#jobs.values()];
    const ended = Promise.all(jobs.flatMap((job) => [job.loop, job.inFlight]));
    const timeout = AbortSignal.timeout(this.#options.stopTimeoutMs ?? 10_000);
    const limit = deadline === undefined ? timeout : AbortSignal.any([deadline, timeout]);
    const finished = await new Promise<boolean>((resolve) => {
      const onLimit = () => resolve(false);
      if (limit.aborted) onLimit();
      limit.addEventListener("abort", onLimit, { once: true });
      const done = () => {
        limit.removeEventListener("abort", onLimit);
        resolve(true);
      };
      void ended.then(done, done);
    });
    if (!finished) {
      const running = jobs.filter((job) => job.inFlight !== undefined).map((j) => j.spec.name);
      this.#options.logger.warn(
        { jobs: running },
        "job runs did not end before the stop deadline; leaving them behind",
      );
    }
  }

  async #tickLoop(job: Job): Promise<void> {
    const signal = this.#stop.signal;
    let pause = job.spec.runAtStart ? 0 : this.#pause(job);
    while (!signal.aborted) {
      await sleep(pause, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      await this.#attempt(job);
      pause = this.#pause(job);
    }
  }

  #pause(job: Job): number {
    const { everyMs, jitter } = job.spec;
    return Math.round(everyMs * (1 - jitter * Math.random()));
  }

  async #attempt(job: Job): Promise<RunResult> {
    if (this.#stop.signal.aborted) return this.#skipped(job, "stopped");
    if (job.inFlight !== undefined) return this.#skipped(job, "running");
    const run = this.#execute(job);
    job.inFlight = run;
    try {
      return await run;
    } finally {
      job.inFlight = undefined;
    }
  }

  /** Takes the lock on a connection of its own, runs the job, releases the lock; never throws. */
  async #execute(job: Job): Promise<RunResult> {
    const { db, logger } = this.#options;
    const name = job.spec.name;
    const controller = new AbortController();
    const abort = () => controller.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener("abort", abort, { once: true });
    let started: number | undefined;
    try {
      const report = await db.kysely.connection().execute(async (connection) => {
        const { rows } = await sql<{ locked: boolean }>`
          select pg_try_advisory_lock(hashtextextended(${job.lockKey}, 0)) as locked`.execute(
          connection,
        );
        if (rows[0]?.locked !== true) return undefined;
        started = performance.now();
        try {
          return (await job.spec.run(controller.signal)) ?? {};
        } finally {
          // A failure here means the session is gone, and its lock with it.
          await sql`select pg_advisory_unlock(hashtextextended(${job.lockKey}, 0))`
            .execute(connection)
            .catch((err: unknown) => logger.warn({ err, job: name }, "could not unlock a job"));
        }
      });
      if (report === undefined) return this.#skipped(job, "locked");
      return this.#succeeded(job, report, performance.now() - (started ?? 0));
    } catch (err) {
      const durationMs = started === undefined ? undefined : performance.now() - started;
      return this.#failed(job, err, durationMs);
    } finally {
      this.#stop.signal.removeEventListener("abort", abort);
    }
  }

  #succeeded(job: Job, report: JobReport, durationMs: number): RunResult {
    const name = job.spec.name;
    const items: JobReport = {};
    for (const [kind, count] of Object.entries(report)) {
      if (!(Number.isFinite(count) && count >= 0)) continue;
      items[kind] = count;
      this.#metrics.items.labels(name, kind).inc(count);
    }
    this.#metrics.runs.labels(name, "ok").inc();
    this.#metrics.duration.labels(name).observe(durationMs / 1000);
    this.#metrics.lastSuccess.labels(name).set(Date.now() / 1000);
    job.lastOutcome = "ok";
    job.lastRunAt = new Date();
    job.lastSuccessAt = job.lastRunAt;
    job.lastError = undefined;
    const handled = Object.values(items).some((count) => count > 0);
    const log = { job: name, items, durationMs: Math.round(durationMs) };
    if (handled) this.#options.logger.info(log, "job ran");
    else this.#options.logger.debug(log, "job ran");
    return { outcome: "ok", items, durationMs };
  }

  #failed(job: Job, err: unknown, durationMs: number | undefined): RunResult {
    const name = job.spec.name;
    this.#metrics.runs.labels(name, "failed").inc();
    if (durationMs !== undefined) this.#metrics.duration.labels(name).observe(durationMs / 1000);
    job.lastOutcome = "failed";
    job.lastRunAt = new Date();
    job.lastError = err instanceof Error ? err.message : String(err);
    const msg =
      durationMs === undefined
        ? "job could not take its lock; it runs again at its next tick"
        : "job failed; it runs again at its next tick";
    this.#options.logger.error(
      {
        err,
        job: name,
        ...(durationMs === undefined ? {} : { durationMs: Math.round(durationMs) }),
      },
      msg,
    );
    return { outcome: "failed", error: err, durationMs };
  }

  #skipped(job: Job, reason: "running" | "locked" | "stopped"): RunResult {
    this.#metrics.runs.labels(job.spec.name, "skipped").inc();
    // Another replica ran it: this replica's last failure, if any, is no longer the news.
    if (reason === "locked") job.lastOutcome = "skipped";
    this.#options.logger.debug({ job: job.spec.name, reason }, "job tick skipped");
    return { outcome: "skipped", reason };
  }
}
