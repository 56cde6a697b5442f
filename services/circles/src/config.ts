import { authVars, toAuthSettings } from "@kindred/auth";
import { maxTtlSeconds } from "@kindred/cache";
import { env, loadServiceConfig } from "@kindred/config";

/**
 * Development-only page-token key: `npm start` and tests work without secrets, and a production
 * deploy that forgets the real key fails at start instead of signing with a key anyone can read.
 */
const developmentPageTokenKey = Buffer.from("dev-only-circles-page-tokens-key").toString("base64");

export function loadCirclesConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "circles", port: 8082, healthPort: 9082 },
      uses: { database: true, redis: true, events: true },
      secrets: ["PAGE_TOKEN_KEY"],
      extra: (kindredEnv) => ({
        ...authVars(kindredEnv),
        /** Signs list page tokens (HMAC-SHA-256); every replica needs the same key. */
        PAGE_TOKEN_KEY: env.key256({
          default: kindredEnv === "production" ? undefined : developmentPageTokenKey,
        }),
        /** Circles are small groups: joining a circle this full is refused (ADR 12). */
        CIRCLE_MAX_MEMBERS: env.int({ min: 2, max: 100_000, default: 500 }),
        /**
         * How long GetCircle and ListMyCircles answers stay in the Redis cache: also how stale
         * they may get when an invalidation is lost while Redis is down (ADR 10).
         */
        CIRCLES_CACHE_TTL_SECONDS: env.int({ min: 1, max: maxTtlSeconds, default: 60 }),
      }),
    },
    vars,
  );
  return {
    ...config,
    auth: toAuthSettings(config.extra, config.server.kindredEnv),
    circles: {
      pageTokenKey: Buffer.from(config.extra.PAGE_TOKEN_KEY, "base64"),
      maxMembers: config.extra.CIRCLE_MAX_MEMBERS,
      cacheTtlSeconds: config.extra.CIRCLES_CACHE_TTL_SECONDS,
    },
  };
}

export type CirclesConfig = ReturnType<typeof loadCirclesConfig>;
export type CirclesSettings = CirclesConfig["circles"];
