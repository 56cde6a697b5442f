import { runMain } from "@kindred/runtime";
import { databaseCommands } from "@kindred/service-kit";
import { createApp } from "./app.ts";
import { loadIdentityConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";

await runMain({
  name: "identity",
  loadConfig: () => loadIdentityConfig(process.env),
  serve: createApp,
  commands: databaseCommands(migrations),
});
