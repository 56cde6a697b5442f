import { defineConfig } from "vitest/config";

/**
 * One Vitest setup for every workspace package: tests import sibling packages from source
 * (the `@kindred/source` export condition), so `pnpm test` needs no build of libraries.
 */
export default defineConfig({
  resolve: { conditions: ["@kindred/source"] },
  ssr: { resolve: { conditions: ["@kindred/source"], externalConditions: ["@kindred/source"] } },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    restoreMocks: true,
  },
});
