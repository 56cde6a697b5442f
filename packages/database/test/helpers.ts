import type { Logger } from "@kindred/resilience";
import type { DatabaseConfig } from "../src/index.ts";

export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps what it is told, for assertions. */
export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry["level"]) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export function configFor(url: string, overrides: Partial<DatabaseConfig> = {}): DatabaseConfig {
  return {
    url,
    poolMax: 5,
    connectTimeoutMs: 2_000,
    statementTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    applicationName: "kindred-database-test",
    ...overrides,
  };
}

/** Resolves once `parties` callers have arrived: lines concurrent transactions up. */
export function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  return () => {
    arrived++;
    if (arrived === parties) resolve();
    return promise;
  };
}
