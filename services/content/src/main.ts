import { runMain } from "@kindred/runtime";
import { databaseCommands } from "@kindred/service-kit";
import { createApp } from "./app.ts";
import { loadContentConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";

await runMain({
  name: "content",
  loadConfig: () => loadContentConfig(process.env),
  serve: createApp,
  commands: databaseCommands(migrations),
});
