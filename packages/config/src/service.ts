import { env } from "./fields.ts";

/**
 * The variables every Kindred service shares, as schema fragments a service composes in its
 * own `config.ts`, and the functions that turn the parsed variables into nested settings.
 * Connection URLs default to the local development servers, except in production, where a
 * missing URL is an error rather than a silent connection to localhost.
 */

export const kindredEnvs = ["development", "test", "production"] as const;
export type KindredEnv = (typeof kindredEnvs)[number];

/** The deployment environment, read first because other defaults depend on it. */
export function kindredEnvOf(vars: Readonly<Record<string, string | undefined>>): KindredEnv {
  const value = vars.KINDRED_ENV;
  return (kindredEnvs as readonly string[]).includes(value ?? "")
    ? (value as KindredEnv)
    : "development";
}

const devOnly = <T>(kindredEnv: KindredEnv, value: T): T | undefined =>
  kindredEnv === "production" ? undefined : value;

export const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

export interface ServiceDefaults {
  /** The deployable's name: `identity`, `gateway`, … */
  name: string;
  port: number;
  healthPort: number;
  /** The variable that sets the public port (the gateway uses `GATEWAY_PORT`). */
  portVariable?: string;
}

export function serverVars(defaults: ServiceDefaults) {
  return {
    KINDRED_ENV: env.oneOf(kindredEnvs, { default: "development" }),
    HOST: env.string({ default: "127.0.0.1" }),
    [defaults.portVariable ?? "PORT"]: env.port({ default: defaults.port }),
    HEALTH_PORT: env.port({ default: defaults.healthPort }),
    LOG_LEVEL: env.oneOf(logLevels, { default: "info" }),
    SHUTDOWN_TIMEOUT_MS: env.millis({ default: 10_000, max: 600_000 }),
    OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalUrl(["http:", "https:"]),
  };
}

export interface ServerSettings {
  kindredEnv: KindredEnv;
  name: string;
  host: string;
  port: number;
  healthPort: number;
  logLevel: (typeof logLevels)[number];
  shutdownTimeoutMs: number;
  otlpEndpoint: string | undefined;
}

export function toServerSettings(
  defaults: ServiceDefaults,
  vars: Readonly<Record<string, unknown>>,
): ServerSettings {
  return {
    kindredEnv: vars.KINDRED_ENV as KindredEnv,
    name: defaults.name,
    host: vars.HOST as string,
    port: vars[defaults.portVariable ?? "PORT"] as number,
    healthPort: vars.HEALTH_PORT as number,
    logLevel: vars.LOG_LEVEL as ServerSettings["logLevel"],
    shutdownTimeoutMs: vars.SHUTDOWN_TIMEOUT_MS as number,
    otlpEndpoint: vars.OTEL_EXPORTER_OTLP_ENDPOINT as string | undefined,
  };
}

export const localDatabaseUrl = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

export function databaseVars(service: string, kindredEnv: KindredEnv) {
  return {
    DATABASE_URL: env.url(["postgres:", "postgresql:"], {
      default: devOnly(kindredEnv, localDatabaseUrl),
    }),
    DATABASE_NAME: env.string({ default: `kindred_${service}` }),
    DATABASE_PASSWORD: env.optionalSecret(),
    DATABASE_POOL_MAX: env.int({ min: 1, max: 200, default: 10 }),
    DATABASE_CONNECT_TIMEOUT_MS: env.millis({ default: 5_000 }),
    DATABASE_STATEMENT_TIMEOUT_MS: env.millis({ default: 10_000 }),
    DATABASE_IDLE_TIMEOUT_MS: env.millis({ default: 30_000 }),
    MIGRATE_ON_START: env.bool({ default: kindredEnv !== "production" }),
  };
}

export interface DatabaseSettings {
  /** The PostgreSQL server (its default database), for creating this service's database. */
  serverUrl: string;
  /** This service's own database on that server. */
  url: string;
  name: string;
  password: string | undefined;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  idleTimeoutMs: number;
  migrateOnStart: boolean;
  applicationName: string;
}

export function toDatabaseSettings(
  service: string,
  vars: Readonly<Record<string, unknown>>,
): DatabaseSettings {
  const serverUrl = vars.DATABASE_URL as string;
  const name = vars.DATABASE_NAME as string;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    serverUrl,
    url: url.toString(),
    name,
    password: vars.DATABASE_PASSWORD as string | undefined,
    poolMax: vars.DATABASE_POOL_MAX as number,
    connectTimeoutMs: vars.DATABASE_CONNECT_TIMEOUT_MS as number,
    statementTimeoutMs: vars.DATABASE_STATEMENT_TIMEOUT_MS as number,
    idleTimeoutMs: vars.DATABASE_IDLE_TIMEOUT_MS as number,
    migrateOnStart: vars.MIGRATE_ON_START as boolean,
    applicationName: `kindred-${service}`,
  };
}

export function redisVars(kindredEnv: KindredEnv) {
  return {
    REDIS_URL: env.url(["redis:", "rediss:"], {
      default: devOnly(kindredEnv, "redis://127.0.0.1:6379"),
    }),
    REDIS_PASSWORD: env.optionalSecret(),
    REDIS_CONNECT_TIMEOUT_MS: env.millis({ default: 5_000 }),
    REDIS_COMMAND_TIMEOUT_MS: env.millis({ default: 2_000 }),
  };
}

export interface RedisSettings {
  url: string;
  password: string | undefined;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export function toRedisSettings(vars: Readonly<Record<string, unknown>>): RedisSettings {
  return {
    url: vars.REDIS_URL as string,
    password: vars.REDIS_PASSWORD as string | undefined,
    connectTimeoutMs: vars.REDIS_CONNECT_TIMEOUT_MS as number,
    commandTimeoutMs: vars.REDIS_COMMAND_TIMEOUT_MS as number,
  };
}

export function natsVars(kindredEnv: KindredEnv) {
  return {
    NATS_URL: env.urlList(["nats:", "tls:"], {
      default: devOnly(kindredEnv, ["nats://127.0.0.1:4222"]),
    }),
    NATS_TOKEN: env.optionalSecret(),
    NATS_CONNECT_TIMEOUT_MS: env.millis({ default: 5_000 }),
  };
}

export interface NatsSettings {
  /** One or more servers, comma-separated in `NATS_URL`. */
  servers: string[];
  token: string | undefined;
  connectTimeoutMs: number;
}

export function toNatsSettings(vars: Readonly<Record<string, unknown>>): NatsSettings {
  return {
    servers: vars.NATS_URL as string[],
    token: vars.NATS_TOKEN as string | undefined,
    connectTimeoutMs: vars.NATS_CONNECT_TIMEOUT_MS as number,
  };
}

/** Secrets every service may take as `<NAME>_FILE`. */
export const sharedSecrets = ["DATABASE_PASSWORD", "REDIS_PASSWORD", "NATS_TOKEN"] as const;

export function eventsVars(kindredEnv: KindredEnv) {
  return {
    EVENTS_NAMESPACE: env.matching(/^[a-z][a-z0-9_]*$/, "lowercase letters, digits and _", {
      default: "",
    }),
    EVENTS_STREAM_REPLICAS: env.int({
      min: 1,
      max: 5,
      default: kindredEnv === "production" ? 3 : 1,
    }),
    OUTBOX_BATCH_SIZE: env.int({ min: 1, max: 10_000, default: 500 }),
    OUTBOX_POLL_INTERVAL_MS: env.millis({ default: 1_000, max: 60_000 }),
    OUTBOX_RETENTION_HOURS: env.int({ min: 1, max: 24 * 90, default: 24 * 7 }),
    CONSUMER_MAX_DELIVERIES: env.int({ min: 1, max: 100, default: 5 }),
  };
}

export interface EventsSettings {
  /** Prefix of stream names and subjects: empty in production; tests and shared servers set one. */
  namespace: string;
  /** Replicas of the streams this service owns (ADR 8: 3 in production). */
  streamReplicas: number;
  /** Byte limit of each stream it owns, in MiB; 0 for none (age only). */
  streamMaxMegabytes: number;
  outboxBatchSize: number;
  outboxPollIntervalMs: number;
  outboxRetentionMs: number;
  consumerMaxDeliveries: number;
}

export function toEventsSettings(vars: Readonly<Record<string, unknown>>): EventsSettings {
  return {
    namespace: vars.EVENTS_NAMESPACE as string,
    streamReplicas: vars.EVENTS_STREAM_REPLICAS as number,
    streamMaxMegabytes: vars.EVENTS_STREAM_MAX_MB as number,
    outboxBatchSize: vars.OUTBOX_BATCH_SIZE as number,
    outboxPollIntervalMs: vars.OUTBOX_POLL_INTERVAL_MS as number,
    outboxRetentionMs: (vars.OUTBOX_RETENTION_HOURS as number) * 3_600_000,
    consumerMaxDeliveries: vars.CONSUMER_MAX_DELIVERIES as number,
  };
}
