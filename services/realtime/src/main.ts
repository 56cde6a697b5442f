import { runMain } from "@kindred/runtime";
import { createApp } from "./app.ts";
import { loadRealtimeConfig } from "./config.ts";

await runMain({
  name: "realtime",
  loadConfig: () => loadRealtimeConfig(process.env),
  serve: createApp,
});
