import { loadServiceConfig } from "@kindred/config";

export function loadRealtimeConfig(vars: Readonly<Record<string, string | undefined>>) {
  return loadServiceConfig(
    { defaults: { name: "realtime", port: 8085, healthPort: 9085 }, uses: { nats: true } },
    vars,
  );
}

export type RealtimeConfig = ReturnType<typeof loadRealtimeConfig>;
