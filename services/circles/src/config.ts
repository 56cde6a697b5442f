import { authVars, toAuthSettings } from "@kindred/auth";
import { eventsVars, loadServiceConfig } from "@kindred/config";

export function loadCirclesConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "circles", port: 8082, healthPort: 9082 },
      uses: { database: true, nats: true },
      extra: (kindredEnv) => ({
        ...authVars(kindredEnv),
        /**
         * Prefix of the subjects read (tests, shared servers); empty in production. Circles owns
         * no stream yet, so it takes only this of the event settings: it reads revocations.
         */
        EVENTS_NAMESPACE: eventsVars(kindredEnv).EVENTS_NAMESPACE,
      }),
    },
    vars,
  );
  return { ...config, auth: toAuthSettings(config.extra, config.server.kindredEnv) };
}

export type CirclesConfig = ReturnType<typeof loadCirclesConfig>;
