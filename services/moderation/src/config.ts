import { authVars, toAuthSettings } from "@kindred/auth";
import { ConfigError, type ConfigIssue, env, loadServiceConfig } from "@kindred/config";

/**
 * Development-only page-token key: `npm start` and tests work without secrets, and a production
 * deploy that forgets the real key fails at start instead of signing with a key anyone can read.
 */
const developmentPageTokenKey = Buffer.from("dev-only-moderation-page-token-k").toString("base64");

export function loadModerationConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "moderation", port: 8084, healthPort: 9084 },
      uses: { database: true, events: true },
      secrets: ["PAGE_TOKEN_KEY", "CLASSIFIER_API_KEY", "PAGER_ROUTING_KEY"],
      extra: (kindredEnv) => ({
        ...authVars(kindredEnv),
        /** Signs list page tokens (HMAC-SHA-256); every replica needs the same key. */
        PAGE_TOKEN_KEY: env.key256({
          default: kindredEnv === "production" ? undefined : developmentPageTokenKey,
        }),
        /**
         * The rules file (JSON, ADR 16), re-read when it changes; unset uses the rules shipped
         * with the service (`rules/default.json`).
         */
        MODERATION_RULES_FILE: env.optionalString(),
        /** How often the rules file is checked for changes besides file-system events. */
        MODERATION_RULES_POLL_MS: env.int({ min: 100, max: 3_600_000, default: 5_000 }),
        /** The external classifier (OpenAI moderation API shape); unset runs rules only. */
        CLASSIFIER_URL: env.optionalUrl(["http:", "https:"]),
        CLASSIFIER_API_KEY: env.optionalSecret(),
        CLASSIFIER_MODEL: env.string({ default: "omni-moderation-latest" }),
        /** A category scoring at least this counts as a match (0 to 100, in percent). */
        CLASSIFIER_THRESHOLD_PERCENT: env.int({ min: 1, max: 100, default: 50 }),
        CLASSIFIER_TIMEOUT_MS: env.millis({ max: 30_000, default: 2_000 }),
        /** PagerDuty Events API v2 base URL for paging on-call moderators; unset logs only. */
        PAGER_URL: env.optionalUrl(["http:", "https:"]),
        PAGER_ROUTING_KEY: env.optionalSecret(),
        /** Where a page links to: the case id is appended. */
        PAGER_CASE_URL_BASE: env.optionalUrl(["http:", "https:"]),
        /** How long a ClaimCase assignment lasts. */
        CLAIM_TTL_SECONDS: env.int({ min: 30, max: 86_400, default: 900 }),
        /** Reports one user may file per hour, counted in the database. */
        REPORTS_PER_HOUR: env.int({ min: 1, max: 1_000, default: 20 }),
        /**
         * How long a report of a target moderation has not heard of yet waits for its event
         * (a post reported right after it appeared) before answering `not_found`. 0 never waits.
         */
        REPORT_TARGET_WAIT_MS: env.millis({ max: 30_000, default: 2_000 }),
        /** Distinct reporters of one target that escalate its case to platform scope. */
        REPORT_ESCALATION_THRESHOLD: env.int({ min: 2, max: 1_000, default: 5 }),
        /** How long after a decision its user may appeal; evidence is held that long. */
        APPEAL_WINDOW_SECONDS: env.int({ min: 60, max: 365 * 86_400, default: 30 * 86_400 }),
        /** How often expired claims and ended evidence holds are swept, in milliseconds. */
        MODERATION_SWEEP_MS: env.int({ min: 10, max: 3_600_000, default: 10_000 }),
        /** How often the scanner looks for content its wake-ups missed, in milliseconds. */
        SCAN_POLL_MS: env.int({ min: 10, max: 60_000, default: 1_000 }),
      }),
    },
    vars,
  );
  const x = config.extra;
  const issues: ConfigIssue[] = [];
  for (const [url, key] of [
    ["CLASSIFIER_URL", "CLASSIFIER_API_KEY"],
    ["PAGER_URL", "PAGER_ROUTING_KEY"],
  ] as const) {
    if ((x[url] === undefined) !== (x[key] === undefined)) {
      const missing = x[url] === undefined ? url : key;
      issues.push({
        variable: missing,
        message: `is required when ${x[url] === undefined ? key : url} is set`,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    ...config,
    auth: toAuthSettings(x, config.server.kindredEnv),
    moderation: {
      pageTokenKey: Buffer.from(x.PAGE_TOKEN_KEY, "base64"),
      claimTtlSeconds: x.CLAIM_TTL_SECONDS,
      reportsPerHour: x.REPORTS_PER_HOUR,
      reportEscalationThreshold: x.REPORT_ESCALATION_THRESHOLD,
      reportTargetWaitMs: x.REPORT_TARGET_WAIT_MS,
      appealWindowSeconds: x.APPEAL_WINDOW_SECONDS,
      sweepMs: x.MODERATION_SWEEP_MS,
      scanPollMs: x.SCAN_POLL_MS,
    },
    rules: { file: x.MODERATION_RULES_FILE, pollMs: x.MODERATION_RULES_POLL_MS },
    classifier:
      x.CLASSIFIER_URL === undefined || x.CLASSIFIER_API_KEY === undefined
        ? undefined
        : {
            endpoint: x.CLASSIFIER_URL,
            apiKey: x.CLASSIFIER_API_KEY,
            model: x.CLASSIFIER_MODEL,
            threshold: x.CLASSIFIER_THRESHOLD_PERCENT / 100,
            timeoutMs: x.CLASSIFIER_TIMEOUT_MS,
          },
    pager:
      x.PAGER_URL === undefined || x.PAGER_ROUTING_KEY === undefined
        ? undefined
        : {
            baseUrl: x.PAGER_URL,
            routingKey: x.PAGER_ROUTING_KEY,
            ...(x.PAGER_CASE_URL_BASE === undefined ? {} : { caseUrlBase: x.PAGER_CASE_URL_BASE }),
          },
  };
}

export type ModerationConfig = ReturnType<typeof loadModerationConfig>;
export type ModerationSettings = ModerationConfig["moderation"];
