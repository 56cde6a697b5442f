import { runMain } from "@kindred/runtime";
import { databaseCommands, eventCommands } from "@kindred/service-kit";
import { buildApp, createApp } from "./app.ts";
import { loadCirclesConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";

await runMain({
  name: "circles",
  loadConfig: () => loadCirclesConfig(process.env),
  serve: createApp,
  commands: { ...databaseCommands(migrations), ...eventCommands(buildApp) },
});
