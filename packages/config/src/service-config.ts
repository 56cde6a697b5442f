import { z } from "zod";
import { deepFreeze, loadConfig } from "./load.ts";
import {
  type DatabaseSettings,
  databaseVars,
  type EventsSettings,
  eventsVars,
  type KindredEnv,
  kindredEnvOf,
  type NatsSettings,
  natsVars,
  type RedisSettings,
  redisVars,
  type ServerSettings,
  type ServiceDefaults,
  serverVars,
  sharedSecrets,
  toDatabaseSettings,
  toEventsSettings,
  toNatsSettings,
  toRedisSettings,
  toServerSettings,
} from "./service.ts";

/** Which shared dependencies a service connects to; it reads only those variables. */
export interface Uses {
  database?: boolean;
  redis?: boolean;
  nats?: boolean;
  /** Publishes or consumes events (implies nats). */
  events?: boolean;
}

export type ServiceConfig<U extends Uses, Extra> = {
  server: ServerSettings;
  extra: Extra;
} & (U extends {
  database: true;
}
  ? { database: DatabaseSettings }
  : unknown) &
  (U extends { redis: true } ? { redis: RedisSettings } : unknown) &
  (U extends { nats: true } ? { nats: NatsSettings } : unknown) &
  (U extends { events: true } ? { events: EventsSettings; nats: NatsSettings } : unknown);

export interface ServiceConfigSpec<U extends Uses, E extends z.ZodRawShape> {
  defaults: ServiceDefaults;
  uses: U;
  /** The service's own variables, given the environment (for environment-specific defaults). */
  extra?: (kindredEnv: KindredEnv) => E;
  /** The service's own secrets (each may be given as `<NAME>_FILE`). */
  secrets?: readonly string[];
}

/**
 * Loads a service's configuration: the shared variables for what it uses plus its own, into a
 * nested, frozen object. Throws `ConfigError` naming every bad variable.
 */
export function loadServiceConfig<
  const U extends Uses,
  E extends z.ZodRawShape = Record<never, never>,
>(
  spec: ServiceConfigSpec<U, E>,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<ServiceConfig<U, z.output<z.ZodObject<E>>>> {
  const kindredEnv = kindredEnvOf(env);
  const { name } = spec.defaults;
  const shape = {
    ...serverVars(spec.defaults),
    ...(spec.uses.database ? databaseVars(name, kindredEnv) : {}),
    ...(spec.uses.redis ? redisVars(kindredEnv) : {}),
    ...(spec.uses.nats || spec.uses.events ? natsVars(kindredEnv) : {}),
    ...(spec.uses.events ? eventsVars(kindredEnv) : {}),
    ...(spec.extra?.(kindredEnv) ?? {}),
  };
  const vars = loadConfig(z.object(shape), env, {
    secrets: [...sharedSecrets, ...(spec.secrets ?? [])],
  }) as Record<string, unknown>;
  const extra = Object.fromEntries(
    Object.keys(spec.extra?.(kindredEnv) ?? {}).map((key) => [key, vars[key]]),
  );
  return deepFreeze({
    server: toServerSettings(spec.defaults, vars),
    extra,
    ...(spec.uses.database ? { database: toDatabaseSettings(name, vars) } : {}),
    ...(spec.uses.redis ? { redis: toRedisSettings(vars) } : {}),
    ...(spec.uses.nats || spec.uses.events ? { nats: toNatsSettings(vars) } : {}),
    ...(spec.uses.events ? { events: toEventsSettings(vars) } : {}),
  }) as unknown as Readonly<ServiceConfig<U, z.output<z.ZodObject<E>>>>;
}
