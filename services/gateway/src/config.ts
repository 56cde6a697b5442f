import { env, loadServiceConfig } from "@kindred/config";

export const upstreamNames = [
  "identity",
  "circles",
  "content",
  "moderation",
  "realtime",
  "notifier",
] as const;

const upstreamDefaults: Record<(typeof upstreamNames)[number], number> = {
  identity: 8081,
  circles: 8082,
  content: 8083,
  moderation: 8084,
  realtime: 8085,
  notifier: 8086,
};

export function loadGatewayConfig(vars: Readonly<Record<string, string | undefined>>) {
  return loadServiceConfig(
    {
      defaults: { name: "gateway", port: 8080, healthPort: 9080, portVariable: "GATEWAY_PORT" },
      uses: { redis: true },
      extra: (kindredEnv) => ({
        ...Object.fromEntries(
          upstreamNames.map((name) => [
            `${name.toUpperCase()}_URL`,
            env.url(["http:", "https:"], {
              default:
                kindredEnv === "production"
                  ? undefined
                  : `http://127.0.0.1:${upstreamDefaults[name]}`,
            }),
          ]),
        ),
        GATEWAY_MAX_TIMEOUT_MS: env.millis({ default: 15_000, max: 300_000 }),
      }),
    },
    vars,
  );
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function upstreamsOf(config: GatewayConfig): Map<string, string> {
  const extra = config.extra as Record<string, unknown>;
  return new Map(upstreamNames.map((name) => [name, extra[`${name.toUpperCase()}_URL`] as string]));
}
