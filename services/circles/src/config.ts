import { loadServiceConfig } from "@kindred/config";

export function loadCirclesConfig(vars: Readonly<Record<string, string | undefined>>) {
  return loadServiceConfig(
    {
      defaults: { name: "circles", port: 8082, healthPort: 9082 },
      uses: { database: true, nats: true },
    },
    vars,
  );
}

export type CirclesConfig = ReturnType<typeof loadCirclesConfig>;
