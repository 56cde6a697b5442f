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
      uses: { database: true, events: true },
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
    },
  };
}

export type ContentConfig = ReturnType<typeof loadContentConfig>;
export type ContentSettings = ContentConfig["content"];
