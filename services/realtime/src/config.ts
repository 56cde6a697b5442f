import { authVars, toAuthSettings } from "@kindred/auth";
import { env, loadServiceConfig } from "@kindred/config";

export function loadRealtimeConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "realtime", port: 8085, healthPort: 9085 },
      uses: { nats: true },
      extra: (kindredEnv) => ({
        ...authVars(kindredEnv),
        /** Prefix of the streams and subjects read (tests, shared servers); empty in production. */
        EVENTS_NAMESPACE: env.matching(/^[a-z][a-z0-9_]*$/, "lowercase letters, digits and _", {
          default: "",
        }),
        /** Bytes queued for one socket beyond which it is closed as a slow consumer. */
        REALTIME_MAX_BUFFERED_BYTES: env.int({
          min: 1_024,
          max: 64 * 1_048_576,
          default: 1_048_576,
        }),
        /** Largest client frame accepted; a bigger one closes the socket with 1009. */
        REALTIME_MAX_FRAME_BYTES: env.int({ min: 1_024, max: 1_048_576, default: 65_536 }),
        /** Subscriptions one connection may hold. */
        REALTIME_MAX_SUBSCRIPTIONS: env.int({ min: 1, max: 10_000, default: 100 }),
        /** A WebSocket ping every interval; a socket that did not answer the previous one is cut. */
        REALTIME_PING_INTERVAL_MS: env.millis({ default: 25_000, max: 600_000 }),
      }),
    },
    vars,
  );
  return { ...config, auth: toAuthSettings(config.extra, config.server.kindredEnv) };
}

export type RealtimeConfig = ReturnType<typeof loadRealtimeConfig>;
