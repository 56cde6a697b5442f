import { authVars, toAuthSettings } from "@kindred/auth";
import { loadServiceConfig } from "@kindred/config";

export function loadModerationConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "moderation", port: 8084, healthPort: 9084 },
      uses: { database: true, events: true },
      extra: authVars,
    },
    vars,
  );
  return { ...config, auth: toAuthSettings(config.extra, config.server.kindredEnv) };
}

export type ModerationConfig = ReturnType<typeof loadModerationConfig>;
