import { maxTtlSeconds } from "@kindred/cache";
import { env, type KindredEnv, loadServiceConfig } from "@kindred/config";
import { z } from "zod";
import { appleSigningKey } from "./oauth/apple-client-secret.ts";

/**
 * Development-only keys: `npm start` and tests work without secrets, and a production deploy
 * that forgets the real ones fails at start instead of encrypting with a key anyone can read.
 */
const developmentKeys = {
  IDENTITY_KEY_ENCRYPTION_KEY: "ZGV2ZWxvcG1lbnQtb25seS1rZWstMDEyMzQ1Njc4OWE=",
  IDENTITY_PII_KEY: "ZGV2ZWxvcG1lbnQtb25seS1waWkta2V5LTAxMjM0NTY=",
} as const;

/** Required in production; outside it, a development key (see `developmentKeys`). */
const key256 = (kindredEnv: KindredEnv, name: keyof typeof developmentKeys) =>
  env.key256({ default: kindredEnv === "production" ? undefined : developmentKeys[name] });

const seconds = (min: number, max: number, fallback: number) =>
  env.int({ min, max, default: fallback });

/** An OpenID provider's endpoints: the real ones by default, a local fake in tests. */
function providerVars(prefix: "GOOGLE" | "APPLE", defaults: { issuer: string; auth: string }) {
  return {
    [`OAUTH_${prefix}_CLIENT_ID`]: env.optionalString(),
    [`OAUTH_${prefix}_ISSUER`]: env.url(["https:", "http:"], { default: defaults.issuer }),
    [`OAUTH_${prefix}_AUTHORIZATION_URL`]: env.url(["https:", "http:"], {
      default: defaults.auth,
    }),
  };
}

export function loadIdentityConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "identity", port: 8081, healthPort: 9081 },
      uses: { database: true, redis: true, events: true },
      secrets: [
        "IDENTITY_KEY_ENCRYPTION_KEY",
        "IDENTITY_PII_KEY",
        "OAUTH_GOOGLE_CLIENT_SECRET",
        "OAUTH_APPLE_PRIVATE_KEY",
      ],
      extra: (kindredEnv) => ({
        AUTH_ISSUER: env.string({ default: "kindred-identity" }),
        AUTH_AUDIENCE: env.string({ default: "kindred" }),
        /** Encrypts the private signing keys at rest (AES-256-GCM). */
        IDENTITY_KEY_ENCRYPTION_KEY: key256(kindredEnv, "IDENTITY_KEY_ENCRYPTION_KEY"),
        /** Encrypts e-mail addresses at rest and keys their blind index (HKDF subkeys). */
        IDENTITY_PII_KEY: key256(kindredEnv, "IDENTITY_PII_KEY"),
        ACCESS_TOKEN_TTL_SECONDS: seconds(60, 3_600, 600),
        REFRESH_TOKEN_IDLE_TTL_SECONDS: seconds(300, 400 * 86_400, 30 * 86_400),
        REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS: seconds(300, 400 * 86_400, 90 * 86_400),
        REFRESH_TOKEN_GRACE_SECONDS: seconds(0, 300, 30),
        /** How long one signing key signs before the next takes over. */
        SIGNING_KEY_ROTATION_SECONDS: seconds(2, 365 * 86_400, 7 * 86_400),
        /** How long a new key is in the JWKS before it signs (longer than verifiers cache it). */
        SIGNING_KEY_PUBLISH_LEAD_SECONDS: seconds(1, 7 * 86_400, 3_600),
        LOGIN_MAX_FAILURES_PER_ACCOUNT: env.int({ min: 1, max: 1_000, default: 5 }),
        LOGIN_MAX_FAILURES_PER_IP: env.int({ min: 1, max: 100_000, default: 50 }),
        /** Window over which failures are counted, and the first lockout's length. */
        LOGIN_FAILURE_WINDOW_SECONDS: seconds(1, 86_400, 900),
        LOGIN_LOCKOUT_SECONDS: seconds(1, 86_400, 60),
        LOGIN_MAX_LOCKOUT_SECONDS: seconds(1, 7 * 86_400, 3_600),
        AUDIT_RETENTION_DAYS: env.int({ min: 1, max: 3_650, default: 400 }),
        /**
         * How long a public profile (GetUser) stays in the Redis cache: also how stale it may
         * get when an invalidation is lost while Redis is down (ADR 10).
         */
        PROFILE_CACHE_TTL_SECONDS: seconds(1, maxTtlSeconds, 300),
        /** Redirect URIs an OAuth flow may return to, comma-separated; none allows no OAuth. */
        OAUTH_REDIRECT_URIS: z
          .string()
          .optional()
          .transform((raw) =>
            (raw ?? "")
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== ""),
          ),
        ...providerVars("GOOGLE", {
          issuer: "https://accounts.google.com",
          auth: "https://accounts.google.com/o/oauth2/v2/auth",
        }),
        OAUTH_GOOGLE_TOKEN_URL: env.url(["https:", "http:"], {
          default: "https://oauth2.googleapis.com/token",
        }),
        OAUTH_GOOGLE_JWKS_URL: env.url(["https:", "http:"], {
          default: "https://www.googleapis.com/oauth2/v3/certs",
        }),
        OAUTH_GOOGLE_CLIENT_SECRET: env.optionalSecret(),
        ...providerVars("APPLE", {
          issuer: "https://appleid.apple.com",
          auth: "https://appleid.apple.com/auth/authorize",
        }),
        OAUTH_APPLE_TOKEN_URL: env.url(["https:", "http:"], {
          default: "https://appleid.apple.com/auth/token",
        }),
        OAUTH_APPLE_JWKS_URL: env.url(["https:", "http:"], {
          default: "https://appleid.apple.com/auth/keys",
        }),
        OAUTH_APPLE_TEAM_ID: env.optionalString(),
        OAUTH_APPLE_KEY_ID: env.optionalString(),
        /** The ES256 key (PKCS#8 PEM) that signs Apple's client secret. */
        OAUTH_APPLE_PRIVATE_KEY: env.optionalSecret().superRefine((pem, ctx) => {
          if (pem === undefined) return;
          try {
            appleSigningKey(pem);
          } catch (err) {
            // The message names the problem, never the value.
            ctx.addIssue({ code: "custom", message: (err as Error).message.replace(/^\S+ /, "") });
          }
        }),
      }),
    },
    vars,
  );
  const x = config.extra as Record<string, unknown>;
  const str = (name: string) => x[name] as string;
  const opt = (name: string) => x[name] as string | undefined;
  const num = (name: string) => x[name] as number;
  return {
    ...config,
    identity: {
      issuer: str("AUTH_ISSUER"),
      audience: str("AUTH_AUDIENCE"),
      keyEncryptionKey: Buffer.from(str("IDENTITY_KEY_ENCRYPTION_KEY"), "base64"),
      piiKey: Buffer.from(str("IDENTITY_PII_KEY"), "base64"),
      accessTokenTtlSeconds: num("ACCESS_TOKEN_TTL_SECONDS"),
      refreshIdleTtlSeconds: num("REFRESH_TOKEN_IDLE_TTL_SECONDS"),
      refreshAbsoluteTtlSeconds: num("REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS"),
      refreshGraceSeconds: num("REFRESH_TOKEN_GRACE_SECONDS"),
      keyRotationSeconds: num("SIGNING_KEY_ROTATION_SECONDS"),
      keyPublishLeadSeconds: num("SIGNING_KEY_PUBLISH_LEAD_SECONDS"),
      auditRetentionDays: num("AUDIT_RETENTION_DAYS"),
      profileCacheTtlSeconds: num("PROFILE_CACHE_TTL_SECONDS"),
    },
    loginLimits: {
      maxFailuresPerAccount: num("LOGIN_MAX_FAILURES_PER_ACCOUNT"),
      maxFailuresPerIp: num("LOGIN_MAX_FAILURES_PER_IP"),
      windowSeconds: num("LOGIN_FAILURE_WINDOW_SECONDS"),
      lockoutSeconds: num("LOGIN_LOCKOUT_SECONDS"),
      maxLockoutSeconds: num("LOGIN_MAX_LOCKOUT_SECONDS"),
    },
    oauth: {
      redirectUris: x.OAUTH_REDIRECT_URIS as string[],
      google: {
        clientId: opt("OAUTH_GOOGLE_CLIENT_ID"),
        clientSecret: opt("OAUTH_GOOGLE_CLIENT_SECRET"),
        issuer: str("OAUTH_GOOGLE_ISSUER"),
        authorizationUrl: str("OAUTH_GOOGLE_AUTHORIZATION_URL"),
        tokenUrl: str("OAUTH_GOOGLE_TOKEN_URL"),
        jwksUrl: str("OAUTH_GOOGLE_JWKS_URL"),
      },
      apple: {
        clientId: opt("OAUTH_APPLE_CLIENT_ID"),
        teamId: opt("OAUTH_APPLE_TEAM_ID"),
        keyId: opt("OAUTH_APPLE_KEY_ID"),
        privateKey: opt("OAUTH_APPLE_PRIVATE_KEY"),
        issuer: str("OAUTH_APPLE_ISSUER"),
        authorizationUrl: str("OAUTH_APPLE_AUTHORIZATION_URL"),
        tokenUrl: str("OAUTH_APPLE_TOKEN_URL"),
        jwksUrl: str("OAUTH_APPLE_JWKS_URL"),
      },
    },
  };
}

export type IdentityConfig = ReturnType<typeof loadIdentityConfig>;
export type IdentitySettings = IdentityConfig["identity"];
export type LoginLimits = IdentityConfig["loginLimits"];
export type OAuthSettings = IdentityConfig["oauth"];
