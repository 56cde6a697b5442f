export { recordingLogger } from "@kindred/testing";

import type { DatabaseConfig } from "../src/index.ts";

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
