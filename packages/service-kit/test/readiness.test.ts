import { loadServiceConfig } from "@kindred/config";
import { DependencyUnavailableError } from "@kindred/errors";
import { createTestDatabase, TcpProxy, testEnv, waitUntil } from "@kindred/testing";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { ServiceKit, testServiceEnv } from "../src/index.ts";

describe("ServiceKit readiness", () => {
  it("follows dependencies that are down at start, come up, and go away again", async () => {
    await using db = await createTestDatabase("kit");
    await using pgProxy = await TcpProxy.create(testEnv.databaseUrl);
    await using natsProxy = await TcpProxy.create(testEnv.natsUrl.replace(/^nats:/, "tcp:"));

    const server = new URL(db.serverUrl);
    server.port = String(pgProxy.port);
    server.hostname = "127.0.0.1";
    const config = loadServiceConfig(
      { defaults: { name: "kit", port: 0, healthPort: 0 }, uses: { database: true, nats: true } },
      testServiceEnv({
        database: { serverUrl: server.toString(), name: db.name },
        extra: {
          NATS_URL: `nats://127.0.0.1:${natsProxy.port}`,
          DATABASE_CONNECT_TIMEOUT_MS: "500",
          NATS_CONNECT_TIMEOUT_MS: "500",
        },
      }),
    );
    const kit = new ServiceKit(config.server);
    const database = kit.postgres<Record<never, never>>(config.database, {
      "20261125T1000_create_note": {
        up: async (k) => {
          await k.schema
            .createTable("note")
            .addColumn("id", "integer", (c) => c.primaryKey())
            .execute();
        },
      },
    });
    kit.nats(config.nats);
    await using host = kit.host({ readinessCacheMs: 0 });
    await host.start();

    const readyz = async () => {
      const res = await fetch(`${host.healthUrl}/readyz`);
      return {
        status: res.status,
        body: (await res.json()) as { checks: Record<string, { status: string; error?: string }> },
      };
    };
    expect((await fetch(`${host.healthUrl}/livez`)).status).toBe(200);
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.checks.postgres?.status).toBe("down");
    expect(down.body.checks.nats).toMatchObject({ status: "down" });
    expect(down.body.checks.migrations?.status).toBe("down");

    // The dependencies come back: the service gets ready by itself, migrations applied.
    await pgProxy.open();
    await natsProxy.open();
    await waitUntil(readyz, (r) => r.status === 200, { what: "ready" });
    await database.transaction((trx) => sql`insert into note (id) values (1)`.execute(trx));

    // PostgreSQL goes away while serving: not ready, and work fails fast with unavailable.
    await pgProxy.close();
    const gone = await waitUntil(readyz, (r) => r.status === 503, { what: "not ready" });
    expect(gone.body.checks.postgres?.status).toBe("down");
    await expect(
      database.transaction((trx) => sql`select 1`.execute(trx), { idempotent: true }),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);

    // And back again.
    await pgProxy.open();
    await waitUntil(readyz, (r) => r.status === 200, { what: "ready again" });
  });
});
