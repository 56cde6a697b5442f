import { loadServiceConfig } from "@kindred/config";

export function loadIdentityConfig(vars: Readonly<Record<string, string | undefined>>) {
  return loadServiceConfig(
    {
      defaults: { name: "identity", port: 8081, healthPort: 9081 },
      uses: { database: true, nats: true },
    },
    vars,
  );
}

export type IdentityConfig = ReturnType<typeof loadIdentityConfig>;
