import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ExitInfo, type LineSink, spawnService } from "./child.ts";
import {
  services as allServices,
  jwksPath,
  type ServiceSpec,
  upstreamVariable,
} from "./services.ts";

export interface SupervisorOptions {
  /** The repository root (services live in `services/<name>`). */
  root: string;
  /** Environment for every service (DATABASE_URL, REDIS_URL, NATS_URL, …). */
  env: NodeJS.ProcessEnv;
  sink: LineSink;
  /** Notices from the supervisor itself ("restarting identity in 2 s"). */
  notice: (message: string) => void;
  services?: readonly ServiceSpec[];
  /** Port overrides by service name (tests run beside a developer's `npm start`). */
  ports?: Readonly<Record<string, { port: number; healthPort: number }>>;
  /** Database names become `<prefix>_<service>` (default `kindred`). */
  databasePrefix?: string;
  restart?: { initialMs: number; maxMs: number; stableMs: number };
  stopTimeoutMs?: number;
}

interface Running {
  spec: ServiceSpec;
  child: ChildProcess;
  exited: Promise<ExitInfo>;
  startedAt: number;
  failures: number;
}

/**
 * Runs the services as child processes the way production runs pods: each is restarted with
 * backoff when it exits unexpectedly, and all are stopped with SIGTERM and given time to drain.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #specs: readonly ServiceSpec[];
  readonly #running = new Map<string, Running>();
  readonly #stopping = new AbortController();

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#specs = options.services ?? allServices;
  }

  portsOf(spec: ServiceSpec): { port: number; healthPort: number } {
    return this.#options.ports?.[spec.name] ?? { port: spec.port, healthPort: spec.healthPort };
  }

  get gatewayUrl(): string {
    const gateway = this.#specs.find((s) => s.name === "gateway");
    return gateway === undefined ? "" : `http://127.0.0.1:${this.portsOf(gateway).port}`;
  }

  envFor(spec: ServiceSpec): NodeJS.ProcessEnv {
    const { port, healthPort } = this.portsOf(spec);
    const env: NodeJS.ProcessEnv = {
      ...this.#options.env,
      [spec.portVariable]: String(port),
      HEALTH_PORT: String(healthPort),
      DATABASE_NAME: `${this.#options.databasePrefix ?? "kindred"}_${spec.name}`,
    };
    for (const upstream of this.#specs) {
      if (upstream.name === "gateway") continue;
      env[upstreamVariable(upstream.name)] = `http://127.0.0.1:${this.portsOf(upstream).port}`;
    }
    // Locally, services trust the keys of the identity instance next to them, unless told
    // which keys to trust (a URL, or an inline set as the system test gives).
    const identity = this.#specs.find((s) => s.name === "identity");
    const keysNamed = [env.AUTH_JWKS_URL, env.AUTH_JWKS].some((v) => v !== undefined && v !== "");
    if (spec.verifiesTokens === true && identity !== undefined && !keysNamed) {
      env.AUTH_JWKS_URL = `http://127.0.0.1:${this.portsOf(identity).port}${jwksPath}`;
    }
    return env;
  }

  #dir(spec: ServiceSpec): string {
    return path.join(this.#options.root, "services", spec.name);
  }

  /** Runs every database service's `migrate` command (which creates its database first). */
  async migrate(): Promise<void> {
    const results = await Promise.all(
      this.#specs
        .filter((s) => s.database)
        .map(async (spec) => {
          const { exited } = spawnService(spec.name, ["dist/main.js", "migrate"], {
            cwd: this.#dir(spec),
            env: this.envFor(spec),
            sink: this.#options.sink,
          });
          return { spec, exit: await exited };
        }),
    );
    const failed = results.filter((r) => r.exit.code !== 0);
    if (failed.length > 0) {
      throw new Error(`migrations failed for ${failed.map((f) => f.spec.name).join(", ")}`);
    }
  }

  start(): void {
    for (const spec of this.#specs) this.#launch(spec, 0);
  }

  #launch(spec: ServiceSpec, failures: number): void {
    const { child, exited } = spawnService(spec.name, ["dist/main.js"], {
      cwd: this.#dir(spec),
      env: this.envFor(spec),
      sink: this.#options.sink,
    });
    const running: Running = { spec, child, exited, startedAt: Date.now(), failures };
    this.#running.set(spec.name, running);
    void exited.then((exit) => this.#onExit(running, exit));
  }

  async #onExit(running: Running, exit: ExitInfo): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    const { spec } = running;
    const restart = this.#options.restart ?? { initialMs: 1_000, maxMs: 30_000, stableMs: 60_000 };
    const stable = Date.now() - running.startedAt > restart.stableMs;
    const failures = stable ? 0 : running.failures + 1;
    const delay = Math.min(restart.maxMs, restart.initialMs * 2 ** Math.max(0, failures - 1));
    const how = exit.signal === null ? `code ${exit.code}` : `signal ${exit.signal}`;
    this.#options.notice(`${spec.name} exited unexpectedly (${how}); restarting in ${delay} ms`);
    try {
      await sleep(delay, undefined, { signal: this.#stopping.signal });
    } catch {
      return;
    }
    this.#launch(spec, failures);
  }

  /** Resolves when every service's `/readyz` answers 200; rejects on `signal`. */
  async waitReady(signal: AbortSignal): Promise<void> {
    const pending = new Set(this.#specs);
    while (pending.size > 0) {
      signal.throwIfAborted();
      for (const spec of [...pending]) {
        const { healthPort } = this.portsOf(spec);
        try {
          const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`, {
            signal: AbortSignal.timeout(2_000),
          });
          await res.body?.cancel();
          if (res.status === 200) pending.delete(spec);
        } catch {
          // not listening yet
        }
      }
      if (pending.size > 0) await sleep(200, undefined, { signal });
    }
  }

  /** The process ids of the current children, by service (for tests). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.#running].map(([name, r]) => [name, r.child.pid]));
  }

  /**
   * SIGTERM to every child, then waits; a child still running after `stopTimeoutMs` gets
   * SIGKILL. Resolves with each service's exit.
   */
  async stop(): Promise<Record<string, ExitInfo>> {
    this.#stopping.abort();
    const timeoutMs = this.#options.stopTimeoutMs ?? 15_000;
    const stopOne = async ({ spec, child, exited }: Running) => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => {
        this.#options.notice(`${spec.name} did not stop within ${timeoutMs} ms; killing it`);
        child.kill("SIGKILL");
      }, timeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return [spec.name, exit] as const;
    };
    // The edge first, so no new request reaches a service that is already draining.
    const running = [...this.#running.values()];
    const edge = await Promise.all(running.filter((r) => r.spec.name === "gateway").map(stopOne));
    const rest = await Promise.all(running.filter((r) => r.spec.name !== "gateway").map(stopOne));
    const entries = [...edge, ...rest];
    return Object.fromEntries(entries);
  }
}
