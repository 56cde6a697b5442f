import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigError,
  databaseVars,
  env,
  kindredEnvOf,
  loadConfig,
  natsVars,
  redisVars,
  serverVars,
  sharedSecrets,
  toDatabaseSettings,
  toNatsSettings,
  toServerSettings,
} from "../src/index.ts";

const defaults = { name: "content", port: 8083, healthPort: 9083 };

function schemaFor(vars: Record<string, string | undefined>) {
  const kindredEnv = kindredEnvOf(vars);
  return z.object({
    ...serverVars(defaults),
    ...databaseVars("content", kindredEnv),
    ...redisVars(kindredEnv),
    ...natsVars(kindredEnv),
    SIGNING_KEY: env.secret({ min: 32 }),
  });
}

function load(vars: Record<string, string | undefined>, files: Record<string, string> = {}) {
  return loadConfig(schemaFor(vars), vars, {
    secrets: [...sharedSecrets, "SIGNING_KEY"],
    readFile: (path) => {
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error("nope"), { code: "ENOENT" });
      return content;
    },
  });
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

const key = "k".repeat(32);

describe("loadConfig", () => {
  it("applies development defaults and nests nothing it was not asked to", () => {
    const config = load({ SIGNING_KEY: key });
    expect(toServerSettings(defaults, config).port).toBe(8083);
    expect(config.HOST).toBe("127.0.0.1");
    expect(config.DATABASE_URL).toBe("postgres://postgres:postgres@127.0.0.1:5432/postgres");
    expect(config.MIGRATE_ON_START).toBe(true);
    expect(toDatabaseSettings("content", config).url).toBe(
      "postgres://postgres:postgres@127.0.0.1:5432/kindred_content",
    );
    expect(toNatsSettings(config).servers).toEqual(["nats://127.0.0.1:4222"]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("names every required variable that is missing in production, in schema order", () => {
    expect(messageOf(() => load({ KINDRED_ENV: "production" }))).toBe(
      "invalid configuration: DATABASE_URL is required; REDIS_URL is required; NATS_URL is required; SIGNING_KEY is required",
    );
  });

  it("treats an empty variable as unset", () => {
    expect(
      messageOf(() =>
        load({
          KINDRED_ENV: "production",
          SIGNING_KEY: key,
          DATABASE_URL: "",
          REDIS_URL: "redis://r",
          NATS_URL: "nats://n",
        }),
      ),
    ).toBe("invalid configuration: DATABASE_URL is required");
  });

  it("names every malformed variable with what is wrong, never echoing URLs or secrets", () => {
    const message = messageOf(() =>
      load({
        KINDRED_ENV: "staging",
        PORT: "80a",
        HEALTH_PORT: "70000",
        LOG_LEVEL: "loud",
        SHUTDOWN_TIMEOUT_MS: "-1",
        OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://collector",
        DATABASE_URL: "not a url with password hunter2",
        DATABASE_POOL_MAX: "0",
        MIGRATE_ON_START: "maybe",
        REDIS_URL: "http://user:pw@127.0.0.1:6379",
        NATS_URL: "nats://127.0.0.1:4222, bad",
        SIGNING_KEY: "short-secret-value",
      }),
    );
    expect(message).toBe(
      [
        'invalid configuration: KINDRED_ENV must be one of development, test, production, got "staging"',
        'PORT must be an integer from 0 to 65535, got "80a"',
        'HEALTH_PORT must be an integer from 0 to 65535, got "70000"',
        'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
        'SHUTDOWN_TIMEOUT_MS must be an integer from 0 to 600000, got "-1"',
        'OTEL_EXPORTER_OTLP_ENDPOINT must be a URL with scheme http or https, got "ftp"',
        "DATABASE_URL must be a valid URL",
        'DATABASE_POOL_MAX must be an integer from 1 to 200, got "0"',
        'MIGRATE_ON_START must be true or false, got "maybe"',
        'REDIS_URL must be a URL with scheme redis or rediss, got "http"',
        "NATS_URL must be a valid URL",
        "SIGNING_KEY must be at least 32 characters long",
      ].join("; "),
    );
    expect(message).not.toContain("hunter2");
    expect(message).not.toContain("short-secret-value");
    expect(message).not.toContain("pw@");
  });

  it("reads secrets from *_FILE without a trailing newline", () => {
    const config = load(
      { SIGNING_KEY_FILE: "/run/secrets/key", DATABASE_PASSWORD_FILE: "/run/secrets/db" },
      { "/run/secrets/key": `${key}\n`, "/run/secrets/db": "s3cret\n" },
    );
    expect(config.SIGNING_KEY).toBe(key);
    expect(config.DATABASE_PASSWORD).toBe("s3cret");
  });

  it("rejects a secret set twice and a secret file that cannot be read", () => {
    expect(
      messageOf(() =>
        load({
          SIGNING_KEY: key,
          SIGNING_KEY_FILE: "/run/secrets/key",
          DATABASE_PASSWORD_FILE: "/missing",
        }),
      ),
    ).toBe(
      "invalid configuration: DATABASE_PASSWORD_FILE names a file that cannot be read (ENOENT); SIGNING_KEY and SIGNING_KEY_FILE are both set; set only one",
    );
  });

  it("accepts a list of NATS servers", () => {
    const config = load({ SIGNING_KEY: key, NATS_URL: "nats://a:4222,nats://b:4222" });
    expect(toNatsSettings(config).servers).toEqual(["nats://a:4222", "nats://b:4222"]);
  });
});

describe("loadServiceConfig", () => {
  it("reads only the variables of what the service uses, nested and frozen", async () => {
    const { loadServiceConfig } = await import("../src/index.ts");
    const config = loadServiceConfig(
      {
        defaults: { name: "gateway", port: 8080, healthPort: 9080, portVariable: "GATEWAY_PORT" },
        uses: { redis: true },
        extra: () => ({ IDENTITY_URL: env.url(["http:"], { default: "http://127.0.0.1:8081" }) }),
      },
      { GATEWAY_PORT: "18080", DATABASE_URL: "ignored: not used by the gateway" },
    );
    expect(config.server.port).toBe(18080);
    expect(config.redis.url).toBe("redis://127.0.0.1:6379");
    expect(config.extra.IDENTITY_URL).toBe("http://127.0.0.1:8081");
    expect("database" in config).toBe(false);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it("reports the service's own variables with the shared ones", async () => {
    const { loadServiceConfig } = await import("../src/index.ts");
    expect(() =>
      loadServiceConfig(
        {
          defaults: { name: "identity", port: 8081, healthPort: 9081 },
          uses: { database: true, nats: true },
          extra: () => ({ SESSION_TTL_MS: env.millis({ default: 1000 }) }),
        },
        { KINDRED_ENV: "production", PORT: "x", SESSION_TTL_MS: "soon" },
      ),
    ).toThrow(
      'invalid configuration: PORT must be an integer from 0 to 65535, got "x"; DATABASE_URL is required; NATS_URL is required; SESSION_TTL_MS must be an integer from 0 to 86400000, got "soon"',
    );
  });
});
