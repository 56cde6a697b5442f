import { authVars, toAuthSettings } from "@kindred/auth";
import { loadServiceConfig } from "@kindred/config";

export function loadContentConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "content", port: 8083, healthPort: 9083 },
      uses: { database: true, events: true },
      extra: authVars,
    },
    vars,
  );
  return { ...config, auth: toAuthSettings(config.extra, config.server.kindredEnv) };
}

export type ContentConfig = ReturnType<typeof loadContentConfig>;
