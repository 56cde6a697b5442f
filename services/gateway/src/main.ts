import { runMain } from "@kindred/runtime";
import { createApp } from "./app.ts";
import { loadGatewayConfig } from "./config.ts";

await runMain({
  name: "gateway",
  loadConfig: () => loadGatewayConfig(process.env),
  serve: (config) => createApp(config),
});
