import { authVars, toAuthSettings } from "@kindred/auth";
import { loadServiceConfig } from "@kindred/config";

export function loadNotifierConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "notifier", port: 8086, healthPort: 9086 },
      uses: { database: true, events: true },
      extra: authVars,
    },
    vars,
  );
  return { ...config, auth: toAuthSettings(config.extra, config.server.kindredEnv) };
}

export type NotifierConfig = ReturnType<typeof loadNotifierConfig>;
