import { type AuthSettings, authVars, toAuthSettings } from "@kindred/auth";
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

/** Where identity serves its public keys, and the gateway serves them from identity. */
export const jwksPath = "/.well-known/jwks.json";

export function loadGatewayConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "gateway", port: 8080, healthPort: 9080, portVariable: "GATEWAY_PORT" },
      // NATS carries identity's session revocations, which the gateway applies to tokens.
      uses: { redis: true, nats: true },
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
        ...authVars(kindredEnv),
        /** Prefix of the streams and subjects read (tests, shared servers); empty in production. */
        EVENTS_NAMESPACE: env.matching(/^[a-z][a-z0-9_]*$/, "lowercase letters, digits and _", {
          default: "",
        }),
      }),
    },
    vars,
  );
  const kindredEnv = config.server.kindredEnv;
  const auth = toAuthSettings(config.extra, kindredEnv);
  const identityUrl = (config.extra as Record<string, unknown>).IDENTITY_URL as string;
  return { ...config, auth: withIdentityKeys(auth, identityUrl, kindredEnv) };
}

/**
 * Outside production, a gateway told of no keys trusts identity's, where it routes: what
 * `npm start` and a developer's own runs need. Production names its keys explicitly.
 */
function withIdentityKeys<S extends AuthSettings>(
  auth: S,
  identityUrl: string,
  kindredEnv: string,
): S {
  const unset = (value: string | undefined) => value === undefined || value === "";
  if (kindredEnv === "production" || !unset(auth.jwksUrl) || !unset(auth.jwks)) return auth;
  return { ...auth, jwksUrl: new URL(jwksPath, identityUrl).toString() };
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function upstreamsOf(config: GatewayConfig): Map<string, string> {
  const extra = config.extra as Record<string, unknown>;
  return new Map(upstreamNames.map((name) => [name, extra[`${name.toUpperCase()}_URL`] as string]));
}
