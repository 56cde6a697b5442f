import type { ServiceMetrics } from "@kindred/telemetry";

/** One dependency a service needs to serve requests; `check` throws when it cannot. */
export interface HealthCheck {
  name: string;
  /** Throws when the dependency cannot serve; may return details to show in `/readyz`. */
  check(signal: AbortSignal): Promise<unknown>;
  /**
   * Whether the instance is unready while this check fails (default true). A producer stays
   * ready while NATS is down, for instance: its writes go to the outbox and are relayed later.
   */
  critical?: boolean;
}

export interface CheckResult {
  status: "up" | "down";
  error?: string;
  /** Set on a non-critical check: its failure does not make the instance unready. */
  critical?: false;
  details?: Record<string, unknown>;
}

export interface ReadinessReport {
  ready: boolean;
  /** `starting`, `serving` or `draining`. */
  phase: Phase;
  checks: Record<string, CheckResult>;
}

type Phase = "starting" | "serving" | "draining";

/**
 * Answers "may this instance get traffic?": only while serving (not starting, not draining)
 * and only while every dependency answers its check within `timeoutMs`. Results are reused
 * for `cacheMs` so a burst of probes does not become a burst of queries.
 */
export class Readiness {
  #phase: Phase = "starting";
  #checks: HealthCheck[];
  #metrics: ServiceMetrics | undefined;
  #timeoutMs: number;
  #cacheMs: number;
  #cached: { at: number; report: Promise<Record<string, CheckResult>> } | undefined;

  constructor(
    checks: HealthCheck[],
    options: { metrics?: ServiceMetrics; timeoutMs?: number; cacheMs?: number } = {},
  ) {
    this.#checks = [...checks];
    this.#metrics = options.metrics;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    this.#cacheMs = options.cacheMs ?? 250;
  }

  add(check: HealthCheck): void {
    this.#checks.push(check);
    this.#cached = undefined;
  }

  get phase(): Phase {
    return this.#phase;
  }

  serving(): void {
    this.#phase = "serving";
    this.#cached = undefined;
  }

  draining(): void {
    this.#phase = "draining";
  }

  async report(): Promise<ReadinessReport> {
    const now = Date.now();
    if (this.#cached === undefined || now - this.#cached.at > this.#cacheMs) {
      this.#cached = { at: now, report: this.#runChecks() };
    }
    const checks = await this.#cached.report;
    const allUp = Object.values(checks).every((c) => c.status === "up" || c.critical === false);
    return { ready: this.#phase === "serving" && allUp, phase: this.#phase, checks };
  }

  async #runChecks(): Promise<Record<string, CheckResult>> {
    const entries = await Promise.all(
      this.#checks.map(async (check): Promise<[string, CheckResult]> => {
        const signal = AbortSignal.timeout(this.#timeoutMs);
        const optional = check.critical === false ? { critical: false as const } : {};
        try {
          const details = await Promise.race([
            check.check(signal),
            new Promise((_, reject) =>
              signal.addEventListener(
                "abort",
                () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
                { once: true },
              ),
            ),
          ]);
          this.#metrics?.dependencyUp.set({ dependency: check.name }, 1);
          return [
            check.name,
            {
              status: "up",
              ...optional,
              ...(isDetails(details) ? { details } : {}),
            },
          ];
        } catch (err) {
          this.#metrics?.dependencyUp.set({ dependency: check.name }, 0);
          return [check.name, { status: "down", error: describe(err), ...optional }];
        }
      }),
    );
    return Object.fromEntries(entries);
  }
}

/** A short, operator-facing reason (readiness is served on an internal port only). */
function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describe(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.includes(code)
      ? `${code}: ${err.message}`
      : err.message;
  }
  return String(err);
}

function isDetails(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
