import { loadServiceConfig } from "@kindred/config";

export function loadContentConfig(vars: Readonly<Record<string, string | undefined>>) {
  return loadServiceConfig(
    {
      defaults: { name: "content", port: 8083, healthPort: 9083 },
      uses: { database: true, nats: true },
    },
    vars,
  );
}

export type ContentConfig = ReturnType<typeof loadContentConfig>;
