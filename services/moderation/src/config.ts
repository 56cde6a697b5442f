import { loadServiceConfig } from "@kindred/config";

export function loadModerationConfig(vars: Readonly<Record<string, string | undefined>>) {
  return loadServiceConfig(
    {
      defaults: { name: "moderation", port: 8084, healthPort: 9084 },
      uses: { database: true, events: true },
    },
    vars,
  );
}

export type ModerationConfig = ReturnType<typeof loadModerationConfig>;
