import { createConnection } from "node:net";
import { testEnv } from "@kindred/testing";
import { connect } from "@nats-io/transport-node";
import { sql } from "kysely";
import type { World } from "./world.ts";

/** The NATS server's version, from its INFO. */
async function natsVersion(): Promise<string> {
  const nc = await connect({ servers: testEnv.natsUrl, name: "api-bench" });
  try {
    return nc.info?.version ?? "?";
  } finally {
    await nc.close();
  }
}

/** The Redis server's version, from `INFO server` (no client library needed for one line). */
async function redisVersion(): Promise<string> {
  const url = new URL(testEnv.redisUrl);
  const socket = createConnection(Number(url.port || 6379), url.hostname);
  socket.setTimeout(2_000);
  let text = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.on("data", (chunk) => {
        text += chunk.toString("utf8");
        const found = /redis_version:([^\r\n]+)/.exec(text);
        if (found?.[1] !== undefined) resolve(found[1]);
      });
      socket.on("timeout", () => reject(new Error("Redis did not answer INFO")));
      socket.on("error", reject);
      socket.write("INFO server\r\n");
    });
  } catch {
    return "?";
  } finally {
    socket.destroy();
  }
}

/** Versions and settings of the servers that bound the figures. */
export async function describeServers(
  world: World,
): Promise<{ postgres: string; nats: string; redis: string }> {
  const { rows } = await sql<{ name: string; setting: string }>`
    select name, setting from pg_settings
    where name in ('server_version', 'synchronous_commit', 'fsync')`.execute(
    world.main.events.database.kysely,
  );
  const settings = Object.fromEntries(rows.map((row) => [row.name, row.setting]));
  return {
    postgres: `${settings.server_version} (synchronous_commit=${settings.synchronous_commit}, fsync=${settings.fsync})`,
    nats: `${await natsVersion()} (JetStream, file storage, R1)`,
    redis: await redisVersion(),
  };
}
