import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { createAccessTokenVerifier } from "@kindred/auth";
import { ConfigError } from "@kindred/config";
import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import { connectErrorOf, publishTestEvent } from "@kindred/service-kit";
import { testEnv, waitUntil } from "@kindred/testing";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { loadIdentityConfig } from "../src/config.ts";
import { bearer, newAccount, startIdentity } from "./helpers.ts";

describe("brute-force limits", () => {
  it("locks an account after repeated failures, with a growing lockout, and audits them", async () => {
    await using identity = await startIdentity({
      LOGIN_MAX_FAILURES_PER_ACCOUNT: "3",
      LOGIN_LOCKOUT_SECONDS: "1",
    });
    const account = newAccount();
    const { user } = await identity.auth.register(account);
    const from = (ip: string) => identity.as({ "x-forwarded-for": ip }).auth;
    for (let i = 0; i < 3; i++) {
      const err = await connectErrorOf(
        from(`10.0.0.${i}`).login({ email: account.email, password: "not the password" }),
      );
      expect(err.code).toBe(Code.Unauthenticated);
    }
    // Locked now, whatever the address, even with the right password.
    const locked = await connectErrorOf(from("10.9.9.9").login(account));
    expect(locked).toMatchObject({ code: Code.ResourceExhausted });
    expect(locked.rawMessage).toMatch(
      /too many failed sign-ins for this account; try again in \d+ s/,
    );
    await new Promise((r) => setTimeout(r, 1_100));
    await from("10.9.9.9").login(account);

    const failures = await identity.app.deps.db.kysely
      .selectFrom("audit_event")
      .select(["ip_address", "details"])
      .where("user_id", "=", user?.id ?? "")
      .where("kind", "=", "login_failed")
      .orderBy("occurred_at")
      .execute();
    expect(failures.map((f) => f.ip_address)).toEqual(["10.0.0.0", "10.0.0.1", "10.0.0.2"]);
    expect(failures[2]?.details).toMatchObject({ reason: "wrong_password", lockedForSeconds: "1" });
  });

  it("throttles one address that fails across many accounts", async () => {
    await using identity = await startIdentity({ LOGIN_MAX_FAILURES_PER_IP: "4" });
    const victim = newAccount();
    await identity.auth.register(victim);
    const attacker = identity.as({ "x-forwarded-for": "203.0.113.7" }).auth;
    for (let i = 0; i < 4; i++) {
      await connectErrorOf(
        attacker.login({ email: `guess${i}@example.org`, password: "password guess" }),
      );
    }
    const throttled = await connectErrorOf(attacker.login(victim));
    expect(throttled).toMatchObject({ code: Code.ResourceExhausted });
    expect(throttled.rawMessage).toContain("from this network");
    // Another address is unaffected.
    await identity.as({ "x-forwarded-for": "198.51.100.1" }).auth.login(victim);
  });
});

describe("signing keys", () => {
  it("rotates keys with each published before it signs, and no valid token is ever refused", async () => {
    await using identity = await startIdentity({
      SIGNING_KEY_ROTATION_SECONDS: "2",
      SIGNING_KEY_PUBLISH_LEAD_SECONDS: "1",
    });
    const jwksUrl = `${identity.url}/.well-known/jwks.json`;
    // A verifier like every other service's, fetching identity's JWKS. (Verifiers cache the set
    // for 10 minutes; the production publication lead of an hour covers that, which a 2-second
    // test rotation cannot, so each round uses a verifier with an empty cache.)
    const verifier = () =>
      createAccessTokenVerifier({ issuer: "kindred-identity", audience: "kindred", jwksUrl });
    const account = newAccount();
    let { tokens } = await identity.auth.register(account);
    const publishedBefore = new Map<string, number>();
    const firstSeen = new Map<string, number>();
    const deadline = Date.now() + 5_500;
    let verified = 0;
    while (Date.now() < deadline) {
      const res = await fetch(jwksUrl);
      expect(res.headers.get("content-type")).toBe("application/jwk-set+json");
      const jwks = (await res.json()) as { keys: { kid: string; d?: string; kty: string }[] };
      for (const key of jwks.keys) {
        expect(key.d).toBeUndefined(); // never a private part
        if (!publishedBefore.has(key.kid)) publishedBefore.set(key.kid, Date.now());
      }
      ({ tokens } = await identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" }));
      const token = tokens?.accessToken ?? "";
      const kid = String(decodeProtectedHeader(token).kid);
      if (!firstSeen.has(kid)) firstSeen.set(kid, Date.now());
      await verifier().verify(token);
      await identity.as(bearer(token)).users.getMe({});
      verified += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(verified).toBeGreaterThan(20);
    const kids = [...firstSeen.keys()];
    expect(kids.length).toBeGreaterThanOrEqual(3);
    // Every key after the first was in the JWKS before the first token it signed.
    for (const kid of kids.slice(1)) {
      expect(publishedBefore.get(kid)).toBeLessThan(firstSeen.get(kid) ?? 0);
    }
    // Keys are stored encrypted with the key-encryption key.
    const stored = await identity.app.deps.db.kysely
      .selectFrom("signing_key")
      .select("private_key_ciphertext")
      .execute();
    for (const row of stored) {
      expect(row.private_key_ciphertext).toMatch(/^v1\./);
      expect(row.private_key_ciphertext).not.toContain("PRIVATE KEY");
    }
  });
});

describe("account restrictions from moderation", () => {
  it("ends every session at a suspension or ban and refuses sign-in until it is lifted", async () => {
    await using identity = await startIdentity();
    const account = newAccount();
    const { user, tokens } = await identity.auth.register(account);
    const userId = user?.id ?? "";
    const restrict = (kind: AccountRestrictionKind, until?: Date) =>
      publishTestEvent({
        natsUrl: testEnv.natsUrl,
        namespace: eventNamespace(identity.namespace),
        stream: moderationStream,
        event: moderationEvents.accountRestricted,
        message: {
          userId,
          kind,
          caseId: crypto.randomUUID(),
          decidedAt: timestampFromDate(new Date()),
          ...(until === undefined ? {} : { until: timestampFromDate(until) }),
        },
        aggregateId: userId,
      });
    const until = new Date(Date.now() + 3_600_000);
    await restrict(AccountRestrictionKind.SUSPENDED, until);
    await waitUntil(
      () =>
        identity
          .as(bearer(tokens?.accessToken))
          .users.getMe({})
          .then(
            () => -1,
            (err: { code: Code }) => err.code,
          ),
      (code) => code === Code.Unauthenticated,
      { timeoutMs: 15_000, what: "the suspended user's session to end" },
    );
    const suspended = await connectErrorOf(identity.auth.login(account));
    expect(suspended).toMatchObject({ code: Code.PermissionDenied });
    expect(suspended.rawMessage).toBe(`this account is suspended until ${until.toISOString()}`);
    expect(
      await connectErrorOf(identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" })),
    ).toMatchObject({ code: Code.Unauthenticated });

    await restrict(AccountRestrictionKind.LIFTED);
    const loginOutcome = () =>
      identity.auth.login(account).then(
        () => "signed in",
        (err: { code: Code }) => Code[err.code],
      );
    await waitUntil(loginOutcome, (o) => o === "signed in", { timeoutMs: 15_000, what: "lift" });
    await restrict(AccountRestrictionKind.BANNED);
    await waitUntil(loginOutcome, (o) => o === "PermissionDenied", {
      timeoutMs: 15_000,
      what: "ban",
    });
    // A time-limited ban keeps the account out until it ends, as a suspension does.
    await restrict(AccountRestrictionKind.LIFTED);
    await waitUntil(loginOutcome, (o) => o === "signed in", { timeoutMs: 15_000, what: "lift" });
    const banEnds = new Date(Date.now() + 7_200_000);
    await restrict(AccountRestrictionKind.BANNED, banEnds);
    await waitUntil(loginOutcome, (o) => o === "PermissionDenied", {
      timeoutMs: 15_000,
      what: "time-limited ban",
    });
    expect((await connectErrorOf(identity.auth.login(account))).rawMessage).toContain(
      banEnds.toISOString(),
    );
    const audit = await identity.app.deps.db.kysely
      .selectFrom("audit_event")
      .select("details")
      .where("user_id", "=", userId)
      .where("kind", "=", "account_restricted")
      .orderBy("occurred_at")
      .execute();
    expect(audit.map((a) => a.details.decision)).toEqual([
      "suspended",
      "lifted",
      "banned",
      "lifted",
      "banned",
    ]);
  });
});

describe("configuration", () => {
  it("names a bad or missing key and never echoes it", () => {
    const bad = "c2hvcnQ="; // "short"
    let error: unknown;
    try {
      loadIdentityConfig({ KINDRED_ENV: "test", IDENTITY_PII_KEY: bad });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toContain("IDENTITY_PII_KEY");
    expect(String((error as Error).message)).toContain("32 bytes");
    expect(String((error as Error).message)).not.toContain(bad);

    expect(() =>
      loadIdentityConfig({ KINDRED_ENV: "test", OAUTH_APPLE_PRIVATE_KEY: "-----BEGIN nonsense" }),
    ).toThrow("OAUTH_APPLE_PRIVATE_KEY is not a PKCS#8 PEM private key");
    expect(() =>
      loadIdentityConfig({
        KINDRED_ENV: "production",
        DATABASE_URL: "postgres://db/identity",
        REDIS_URL: "redis://redis:6379",
        NATS_URL: "nats://nats:4222",
      }),
    ).toThrow(
      /IDENTITY_KEY_ENCRYPTION_KEY is required[\s\S]*IDENTITY_PII_KEY is required|IDENTITY_PII_KEY is required/,
    );
  });
});
