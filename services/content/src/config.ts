import { authVars, toAuthSettings } from "@kindred/auth";
import { env, loadServiceConfig } from "@kindred/config";

/**
 * Development-only page-token key: `npm start` and tests work without secrets, and a production
 * deploy that forgets the real key fails at start instead of signing with a key anyone can read.
 */
const developmentPageTokenKey = Buffer.from("development-only-page-tokens-key").toString("base64");

export function loadContentConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "content", port: 8083, healthPort: 9083 },
      // Redis holds the feed cache only: it is not critical, a Redis outage degrades to the
      // database (ADR 10).
      uses: { database: true, events: true, redis: true },
      secrets: ["PAGE_TOKEN_KEY"],
      extra: (kindredEnv) => ({
        ...authVars(kindredEnv),
        /** Signs list page tokens (HMAC-SHA-256); every replica needs the same key. */
        PAGE_TOKEN_KEY: env.key256({
          default: kindredEnv === "production" ? undefined : developmentPageTokenKey,
        }),
        /**
         * How long a membership check that fails waits for the membership projection to catch
         * up before refusing (a join followed at once by a post; ADR 11). 0 never waits.
         */
        MEMBERSHIP_WAIT_MS: env.millis({ max: 30_000, default: 2_000 }),
        /** SOS alerts one user may raise in any hour, counted in the database (ADR 13). */
        SOS_MAX_PER_HOUR: env.int({ min: 1, max: 100, default: 3 }),
        /** An alert nobody acknowledged for this long goes one escalation stage further. */
        SOS_ACK_TIMEOUT_SECONDS: env.int({ min: 1, max: 3_600, default: 120 }),
        /** How often the escalation job looks for alerts due to escalate, in milliseconds. */
        SOS_ESCALATION_CHECK_MS: env.int({ min: 10, max: 60_000, default: 5_000 }),
        /** How often the expiry purge runs, in milliseconds (ADR 11). */
        PURGE_INTERVAL_MS: env.int({ min: 10, max: 86_400_000, default: 600_000 }),
        /**
         * How long expired and removed posts and responses stay before the purge deletes them:
         * time for a report's evidence hold to arrive by event (ADR 11).
         */
        PURGE_GRACE_SECONDS: env.int({ min: 0, max: 30 * 86_400, default: 86_400 }),
        /**
         * How long a cached feed page lives: the staleness bound when an invalidation is lost.
         * 0 turns the feed cache off (every read from the database; writes still invalidate,
         * for replicas that cache).
         */
        FEED_CACHE_TTL_SECONDS: env.int({ min: 0, max: 3_600, default: 30 }),
      }),
    },
    vars,
  );
  return {
    ...config,
    auth: toAuthSettings(config.extra, config.server.kindredEnv),
    content: {
      pageTokenKey: Buffer.from(config.extra.PAGE_TOKEN_KEY, "base64"),
      membershipWaitMs: config.extra.MEMBERSHIP_WAIT_MS,
      feedCacheTtlSeconds: config.extra.FEED_CACHE_TTL_SECONDS,
    },
    sos: {
      maxPerHour: config.extra.SOS_MAX_PER_HOUR,
      ackTimeoutSeconds: config.extra.SOS_ACK_TIMEOUT_SECONDS,
      escalationCheckMs: config.extra.SOS_ESCALATION_CHECK_MS,
    },
    purge: {
      intervalMs: config.extra.PURGE_INTERVAL_MS,
      graceSeconds: config.extra.PURGE_GRACE_SECONDS,
    },
  };
}

export type ContentConfig = ReturnType<typeof loadContentConfig>;
export type ContentSettings = ContentConfig["content"];
export type SosSettings = ContentConfig["sos"];
