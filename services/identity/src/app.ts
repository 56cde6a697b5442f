import type { IncomingMessage, ServerResponse } from "node:http";
import { authInterceptor } from "@kindred/auth";
import { identityStream } from "@kindred/event-catalog";
import { PageTokens } from "@kindred/paging";
import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { type EventsKit, ServiceKit } from "@kindred/service-kit";
import { AccessTokens, identityTokenVerifier } from "./access-tokens.ts";
import type { IdentityConfig } from "./config.ts";
import { SecretBox, subkey } from "./crypto.ts";
import { migrations } from "./db/migrations.ts";
import type { IdentityDatabase } from "./db/schema.ts";
import type { IdentityDeps } from "./deps.ts";
import { LoginLimiter } from "./login-limiter.ts";
import { startMaintenance } from "./maintenance.ts";
import { OAuthFlows } from "./oauth/flows.ts";
import { EmailVault } from "./pii.ts";
import { ProfileCache } from "./profile-cache.ts";
import { restrictionConsumer } from "./restrictions.ts";
import { routes } from "./routes.ts";
import { Sessions } from "./sessions.ts";
import { SigningKeys } from "./signing-keys.ts";

export interface IdentityApp {
  host: ServiceHost;
  events: EventsKit;
  deps: IdentityDeps;
  keys: SigningKeys;
  /** Housekeeping, also run on a timer; here so tests and operators can run it at once. */
  maintenance: ReturnType<typeof startMaintenance>;
}

/** The composition root of identity: every dependency is built here, from config. */
export function buildApp(
  config: IdentityConfig,
  overrides: Partial<BaseDependencies> & { fetch?: typeof fetch } = {},
): IdentityApp {
  const { fetch: fetchImpl, ...base } = overrides;
  const kit = new ServiceKit(config.server, base);
  const db = kit.postgres<IdentityDatabase>(config.database, migrations);
  // Not critical: without Redis, password sign-in fails closed (`unavailable`, ADR 9) while
  // refresh, profiles and everything else keep working, so identity stays ready.
  const redis = kit.redis(config.redis, { critical: false });
  const nats = kit.nats(config.nats, { critical: false });
  const events = kit.events({
    settings: config.events,
    database: config.database,
    db,
    nats,
    streams: [identityStream],
  });
  const settings = config.identity;
  const keys = new SigningKeys({
    db,
    box: new SecretBox(subkey(settings.keyEncryptionKey, "signing-keys")),
    policy: {
      rotationSeconds: settings.keyRotationSeconds,
      publishLeadSeconds: settings.keyPublishLeadSeconds,
      tokenTtlSeconds: settings.accessTokenTtlSeconds,
    },
    logger: kit.logger.child({ component: "signing-keys" }),
  });
  const tokenSettings = {
    issuer: settings.issuer,
    audience: settings.audience,
    ttlSeconds: settings.accessTokenTtlSeconds,
  };
  const vault = new EmailVault(settings.piiKey);
  // Redis keys per events namespace, so parallel tests (and shared staging servers) do not collide.
  const keySuffix = config.events.namespace === "" ? "" : `:${config.events.namespace}`;
  const deps: IdentityDeps = {
    db,
    outbox: events.outbox,
    vault,
    sessions: new Sessions({
      db,
      tokens: new AccessTokens(keys, tokenSettings),
      box: new SecretBox(subkey(settings.keyEncryptionKey, "refresh-successors")),
      outbox: events.outbox,
      policy: {
        idleTtlSeconds: settings.refreshIdleTtlSeconds,
        absoluteTtlSeconds: settings.refreshAbsoluteTtlSeconds,
        graceSeconds: settings.refreshGraceSeconds,
      },
    }),
    limiter: new LoginLimiter(redis, config.loginLimits, `identity:login${keySuffix}`),
    // Fail-soft, on the same client as the limiter (which fails closed).
    profiles: new ProfileCache(
      kit.cache(redis, { name: "profile", prefix: `kindred:identity${keySuffix}` }),
      settings.profileCacheTtlSeconds,
    ),
    logger: kit.logger,
    settings,
    pageTokens: new PageTokens(subkey(settings.piiKey, "page-tokens")),
  };
  const oauth = new OAuthFlows(deps, config.oauth, fetchImpl ?? fetch);
  events.consume(restrictionConsumer(deps));

  // Keys exist before the first request is served; readiness waits for that.
  let keysReady = false;
  kit.lifecycle.add(
    "signing-keys",
    () => {
      const attempt = async (): Promise<void> => {
        try {
          await keys.maintain();
          keysReady = true;
        } catch (err) {
          kit.logger.warn({ err }, "cannot load signing keys yet; retrying");
          await new Promise((r) => setTimeout(r, 1_000).unref());
          if (!stopped) return attempt();
        }
      };
      void attempt();
      keys.start();
    },
    async () => {
      stopped = true;
      keys.stop();
    },
  );
  let stopped = false;
  kit.checks.push({
    name: "signing-keys",
    check: async () => {
      if (!keysReady) throw new Error("signing keys not loaded yet");
      return { published: keys.jwks().keys.length };
    },
  });
  const maintenance = startMaintenance(deps, kit.logger);
  kit.lifecycle.add("maintenance", maintenance.start, maintenance.stop);

  const host = kit.host({
    routes: routes(deps, oauth),
    interceptors: [authInterceptor(identityTokenVerifier(keys, tokenSettings, db))],
    fallback: (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "GET" && path === "/.well-known/jwks.json") {
        const body = JSON.stringify(keys.jwks());
        res.writeHead(200, {
          "content-type": "application/jwk-set+json",
          // Verifiers refetch on an unknown kid anyway; a new key is published an hour ahead.
          "cache-control": "public, max-age=300",
          "content-length": Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      const body = JSON.stringify({ code: "not_found", message: `no such path: ${path}` });
      res.writeHead(404, { "content-type": "application/json" });
      res.end(body);
    },
  });
  return { host, events, deps, keys, maintenance };
}

export const createApp = (config: IdentityConfig, overrides?: Parameters<typeof buildApp>[1]) =>
  buildApp(config, overrides).host;
