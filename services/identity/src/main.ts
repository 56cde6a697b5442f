import { runMain } from "@kindred/runtime";
import { databaseCommands, eventCommands } from "@kindred/service-kit";
import { runRevokeSessionsCommand, runRoleCommand } from "./admin-command.ts";
import { buildApp, createApp } from "./app.ts";
import { loadIdentityConfig } from "./config.ts";
import { migrations } from "./db/migrations.ts";

await runMain({
  name: "identity",
  loadConfig: () => loadIdentityConfig(process.env),
  serve: createApp,
  commands: {
    ...databaseCommands(migrations),
    ...eventCommands(buildApp),
    "grant-role": (config, args) => runRoleCommand(config, "grant", args),
    "revoke-role": (config, args) => runRoleCommand(config, "revoke", args),
    "revoke-sessions": (config, args) => runRevokeSessionsCommand(config, args),
  },
});
