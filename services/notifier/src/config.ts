import { loadServiceConfig } from "@kindred/config";

export function loadNotifierConfig(vars: Readonly<Record<string, string | undefined>>) {
  return loadServiceConfig(
    {
      defaults: { name: "notifier", port: 8086, healthPort: 9086 },
      uses: { database: true, events: true },
    },
    vars,
  );
}

export type NotifierConfig = ReturnType<typeof loadNotifierConfig>;
