import { authVars, toAuthSettings } from "@kindred/auth";
import { ConfigError, type ConfigIssue, env, loadServiceConfig } from "@kindred/config";

export function loadNotifierConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "notifier", port: 8086, healthPort: 9086 },
      uses: { database: true, events: true },
      secrets: ["APNS_PRIVATE_KEY", "FCM_SERVICE_ACCOUNT"],
      extra: (kindredEnv) => ({
        ...authVars(kindredEnv),
        /** How often the dispatcher looks for due pushes besides wake-ups, in milliseconds. */
        DISPATCH_POLL_MS: env.int({ min: 10, max: 60_000, default: 1_000 }),
        /** Attempts of one push before it is marked failed. */
        DISPATCH_MAX_ATTEMPTS: env.int({ min: 1, max: 100, default: 8 }),
        /** Pushes leased and sent at once by one replica. */
        DISPATCH_BATCH_SIZE: env.int({ min: 1, max: 1_000, default: 50 }),
        /** How long one send may take before another replica takes the push over. */
        DISPATCH_LEASE_MS: env.int({ min: 1_000, max: 3_600_000, default: 60_000 }),
        /** First retry delay after a retryable answer; doubles per attempt, with jitter. */
        DISPATCH_RETRY_BASE_MS: env.int({ min: 1, max: 3_600_000, default: 1_000 }),
        /** Longest retry delay (a provider's `Retry-After` may ask for more). */
        DISPATCH_RETRY_MAX_MS: env.int({ min: 1, max: 86_400_000, default: 300_000 }),
        /** How long a provider may hold a push for an offline device, in seconds. */
        PUSH_TTL_SECONDS: env.int({ min: 0, max: 28 * 86_400, default: 86_400 }),
        /** The same for SOS pushes. */
        PUSH_SOS_TTL_SECONDS: env.int({ min: 0, max: 28 * 86_400, default: 3_600 }),
        /**
         * The iOS app holds Apple's critical-alert entitlement: SOS pushes are sent as
         * `critical` (they sound through Do Not Disturb) instead of `time-sensitive`.
         */
        PUSH_CRITICAL_ALERTS: env.bool({ default: false }),
        /** Devices one user may register; registering one more removes the least recently seen. */
        DEVICES_PER_USER: env.int({ min: 1, max: 100, default: 10 }),
        /**
         * APNs (iOS) with token-based auth: the team id, the key id and the .p8 key (PEM), and the
         * app's bundle id, all or none; none sends no iOS pushes. The sandbox is
         * `https://api.sandbox.push.apple.com`.
         */
        APNS_URL: env.url(["https:", "http:"], { default: "https://api.push.apple.com" }),
        APNS_TEAM_ID: env.optionalString(),
        APNS_KEY_ID: env.optionalString(),
        APNS_PRIVATE_KEY: env.optionalSecret(),
        APNS_BUNDLE_ID: env.optionalString(),
        APNS_RATE_PER_SECOND: env.int({ min: 1, max: 100_000, default: 500 }),
        /** A CA certificate (PEM) to trust for APNS_URL besides the system's: a private relay. */
        APNS_CA: env.optionalString(),
        /** FCM HTTP v1 (Android): the service account's JSON key; unset sends no Android pushes. */
        FCM_URL: env.url(["https:", "http:"], { default: "https://fcm.googleapis.com" }),
        FCM_SERVICE_ACCOUNT: env.optionalSecret(),
        FCM_RATE_PER_SECOND: env.int({ min: 1, max: 100_000, default: 500 }),
      }),
    },
    vars,
  );
  const x = config.extra;
  const apnsVars = {
    APNS_TEAM_ID: x.APNS_TEAM_ID,
    APNS_KEY_ID: x.APNS_KEY_ID,
    APNS_PRIVATE_KEY: x.APNS_PRIVATE_KEY,
    APNS_BUNDLE_ID: x.APNS_BUNDLE_ID,
  };
  const missing = Object.entries(apnsVars).filter(([, v]) => v === undefined);
  if (missing.length > 0 && missing.length < 4) {
    const issues: ConfigIssue[] = missing.map(([variable]) => ({
      variable,
      message: "is required when any APNS_* credential is set",
    }));
    throw new ConfigError(issues);
  }
  return {
    ...config,
    auth: toAuthSettings(x, config.server.kindredEnv),
    devices: { maxPerUser: x.DEVICES_PER_USER },
    push: {
      apns:
        x.APNS_TEAM_ID === undefined ||
        x.APNS_KEY_ID === undefined ||
        x.APNS_PRIVATE_KEY === undefined ||
        x.APNS_BUNDLE_ID === undefined
          ? undefined
          : {
              baseUrl: x.APNS_URL,
              teamId: x.APNS_TEAM_ID,
              keyId: x.APNS_KEY_ID,
              privateKeyPem: x.APNS_PRIVATE_KEY,
              bundleId: x.APNS_BUNDLE_ID,
              ratePerSecond: x.APNS_RATE_PER_SECOND,
              ...(x.APNS_CA === undefined ? {} : { ca: x.APNS_CA }),
            },
      fcm:
        x.FCM_SERVICE_ACCOUNT === undefined
          ? undefined
          : {
              baseUrl: x.FCM_URL,
              serviceAccountJson: x.FCM_SERVICE_ACCOUNT,
              ratePerSecond: x.FCM_RATE_PER_SECOND,
            },
    },
    dispatcher: {
      pollMs: x.DISPATCH_POLL_MS,
      maxAttempts: x.DISPATCH_MAX_ATTEMPTS,
      batchSize: x.DISPATCH_BATCH_SIZE,
      leaseMs: x.DISPATCH_LEASE_MS,
      retryBaseMs: x.DISPATCH_RETRY_BASE_MS,
      retryMaxMs: x.DISPATCH_RETRY_MAX_MS,
      payload: {
        ttlSeconds: x.PUSH_TTL_SECONDS,
        sosTtlSeconds: x.PUSH_SOS_TTL_SECONDS,
        criticalAlerts: x.PUSH_CRITICAL_ALERTS,
      },
    },
  };
}

export type NotifierConfig = ReturnType<typeof loadNotifierConfig>;
