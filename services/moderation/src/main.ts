import { runMain } from "@kindred/runtime";
import { databaseCommands, eventCommands } from "@kindred/service-kit";
import { buildApp, createApp } from "./app.ts";
import { loadModerationConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";

await runMain({
  name: "moderation",
  loadConfig: () => loadModerationConfig(process.env),
  serve: createApp,
  commands: { ...databaseCommands(migrations), ...eventCommands(buildApp) },
});
