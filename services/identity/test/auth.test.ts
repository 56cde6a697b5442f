import { Code } from "@connectrpc/connect";
import { connectErrorOf } from "@kindred/service-kit";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, type IdentityUnderTest, newAccount, startIdentity } from "./helpers.ts";

let identity: IdentityUnderTest;

beforeAll(async () => {
  identity = await startIdentity({ REFRESH_TOKEN_GRACE_SECONDS: "2" });
});
afterAll(async () => {
  await identity?.[Symbol.asyncDispose]();
});

async function auditKinds(userId: string): Promise<string[]> {
  const rows = await identity.app.deps.db.kysely
    .selectFrom("audit_event")
    .select("kind")
    .where("user_id", "=", userId)
    .orderBy("occurred_at")
    .orderBy("id")
    .execute();
  return rows.map((r) => r.kind);
}

describe("register and login", () => {
  it("registers with a normalized e-mail stored encrypted, and issues a well-formed token pair", async () => {
    const account = newAccount("Ada");
    const { user, tokens } = await identity.auth.register({
      ...account,
      email: account.email.toUpperCase(),
    });
    expect(user).toMatchObject({
      email: account.email,
      displayName: "Ada",
      roles: [1],
      version: 1n,
    });
    expect(tokens?.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits

    const claims = decodeJwt(tokens?.accessToken ?? "");
    const header = decodeProtectedHeader(tokens?.accessToken ?? "");
    expect(header).toMatchObject({ alg: "EdDSA", typ: "at+jwt" });
    expect(header.kid).toMatch(/^k-/);
    expect(claims).toMatchObject({
      iss: "kindred-identity",
      aud: "kindred",
      sub: user?.id,
      roles: ["member"],
    });
    expect(claims.exp).toBe((claims.iat ?? 0) + 600);
    expect(claims.nbf).toBe(claims.iat);
    expect(typeof claims.jti).toBe("string");
    expect(typeof claims.sid).toBe("string");

    // At rest: no plaintext e-mail, only ciphertext and a blind index; no plaintext password.
    const row = await identity.app.deps.db.kysely
      .selectFrom("app_user")
      .selectAll()
      .where("id", "=", user?.id ?? "")
      .executeTakeFirstOrThrow();
    expect(row.email_ciphertext).not.toContain(account.email);
    expect(row.email_ciphertext).toMatch(/^v1\./);
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const stored = await identity.app.deps.db.kysely
      .selectFrom("refresh_token")
      .select("token_hash")
      .execute();
    expect(stored.map((r) => r.token_hash.toString("base64url"))).not.toContain(
      tokens?.refreshToken,
    );

    const me = await identity.as(bearer(tokens?.accessToken)).users.getMe({});
    expect(me.user?.id).toBe(user?.id);
    expect(await auditKinds(user?.id ?? "")).toEqual(["registered"]);
  });

  it("refuses bad registrations with clear messages and creates nothing", async () => {
    const account = newAccount();
    const cases = [
      [{ ...account, email: "not-an-email" }, "email"],
      [{ ...account, password: "short" }, "password"],
      [{ ...account, password: "password123" }, "too common"],
      [{ ...account, password: account.email }, "e-mail address or name"],
      [{ ...account, displayName: "   " }, "display_name must not be blank"],
      [{ ...account, displayName: "x".repeat(65) }, "display_name"],
    ] as const;
    for (const [input, message] of cases) {
      const err = await connectErrorOf(identity.auth.register(input));
      expect(err.code, message).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain(message);
    }
    await identity.auth.register(account);
    const taken = await connectErrorOf(
      identity.auth.register({ ...account, email: account.email.toUpperCase() }),
    );
    expect(taken).toMatchObject({ code: Code.AlreadyExists });
    const count = await identity.app.deps.db.kysely
      .selectFrom("app_user")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("email_index", "=", identity.app.deps.vault.index(account.email))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it("answers an unknown e-mail and a wrong password the same way, and audits both", async () => {
    const account = newAccount();
    const { user } = await identity.auth.register(account);
    const unknown = await connectErrorOf(
      identity.auth.login({ email: `nobody.${account.email}`, password: account.password }),
    );
    const wrong = await connectErrorOf(
      identity.auth.login({ email: account.email, password: "wrong password here" }),
    );
    expect(unknown.code).toBe(Code.Unauthenticated);
    expect(wrong.code).toBe(Code.Unauthenticated);
    expect(wrong.rawMessage).toBe(unknown.rawMessage);

    const ok = await identity
      .as({ "user-agent": "KindredTest/1.0" })
      .auth.login({ email: account.email.toUpperCase(), password: account.password });
    expect(ok.user?.id).toBe(user?.id);
    expect(await auditKinds(user?.id ?? "")).toEqual([
      "registered",
      "login_failed",
      "login_succeeded",
    ]);
    const success = await identity.app.deps.db.kysely
      .selectFrom("audit_event")
      .selectAll()
      .where("user_id", "=", user?.id ?? "")
      .where("kind", "=", "login_succeeded")
      .executeTakeFirstOrThrow();
    expect(success.user_agent).toBe("KindredTest/1.0");
    expect(success.ip_address).toMatch(/127\.0\.0\.1/);
    expect(success.request_id).not.toBe("");
  });
});

describe("refresh tokens", () => {
  it("rotates on every use; a retry within the grace period gets the same pair", async () => {
    const { tokens } = await identity.auth.register(newAccount());
    const first = await identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" });
    expect(first.tokens?.refreshToken).not.toBe(tokens?.refreshToken);
    // The client lost the answer and retries with the same token: the same pair, no new branch.
    const retry = await identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" });
    expect(retry.tokens).toEqual(first.tokens);
    const second = await identity.auth.refresh({ refreshToken: first.tokens?.refreshToken ?? "" });
    expect(second.tokens?.refreshToken).not.toBe(first.tokens?.refreshToken);
  });

  it("lets exactly one of two concurrent refreshes rotate; the other gets the same pair", async () => {
    const { tokens } = await identity.auth.register(newAccount());
    const refreshToken = tokens?.refreshToken ?? "";
    const results = await Promise.all(
      Array.from({ length: 5 }, () => identity.auth.refresh({ refreshToken })),
    );
    const pairs = new Set(results.map((r) => r.tokens?.refreshToken));
    expect(pairs.size).toBe(1);
    const sessions = await identity.app.deps.db.kysely
      .selectFrom("refresh_token")
      .innerJoin("session", "session.id", "refresh_token.session_id")
      .select(["refresh_token.generation", "session.generation as current"])
      .where("session.id", "=", String(decodeJwt(tokens?.accessToken ?? "").sid))
      .execute();
    expect(sessions.map((s) => s.generation).sort()).toEqual([0, 1]);
  });

  it("revokes the whole family when a rotated token comes back after the grace period", async () => {
    const { user, tokens } = await identity.auth.register(newAccount());
    const next = await identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" });
    await new Promise((r) => setTimeout(r, 2_200));
    const reuse = await connectErrorOf(
      identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" }),
    );
    expect(reuse).toMatchObject({ code: Code.Unauthenticated });
    // The legitimate holder's newer tokens die with the family, access token included.
    const after = await connectErrorOf(
      identity.auth.refresh({ refreshToken: next.tokens?.refreshToken ?? "" }),
    );
    expect(after).toMatchObject({ code: Code.Unauthenticated });
    const me = await connectErrorOf(identity.as(bearer(next.tokens?.accessToken)).users.getMe({}));
    expect(me).toMatchObject({ code: Code.Unauthenticated });

    expect(await auditKinds(user?.id ?? "")).toEqual(
      expect.arrayContaining(["refresh_token_reused", "session_revoked"]),
    );
    const outbox = await identity.app.deps.db.kysely
      .selectFrom("event_outbox")
      .select("subject")
      .where("aggregate_key", "like", `%${String(decodeJwt(tokens?.accessToken ?? "").sid)}`)
      .execute();
    expect(outbox.map((r) => r.subject).sort()).toEqual([
      `${identity.namespace}.identity.session.compromised.v1`,
      `${identity.namespace}.identity.session.revoked.v1`,
    ]);
  });

  it("refuses unknown, tampered and logged-out refresh tokens alike", async () => {
    const { tokens } = await identity.auth.register(newAccount());
    const refreshToken = tokens?.refreshToken ?? "";
    const tampered = `${refreshToken.slice(0, -1)}${refreshToken.endsWith("A") ? "B" : "A"}`;
    for (const token of [tampered, "x".repeat(43)]) {
      expect(await connectErrorOf(identity.auth.refresh({ refreshToken: token }))).toMatchObject({
        code: Code.Unauthenticated,
      });
    }
    await identity.auth.logout({ refreshToken });
    expect(await connectErrorOf(identity.auth.refresh({ refreshToken }))).toMatchObject({
      code: Code.Unauthenticated,
    });
    // Logging out twice is not an error (RFC 7009).
    await identity.auth.logout({ refreshToken });
  });
});

describe("session lifetimes", () => {
  const sidOf = (token: string | undefined) => String(decodeJwt(token ?? "").sid);

  it("slides the idle expiry on refresh but never past the absolute lifetime", async () => {
    const { tokens } = await identity.auth.register(newAccount());
    const db = identity.app.deps.db.kysely;
    const sid = sidOf(tokens?.accessToken);
    const before = await db
      .selectFrom("session")
      .selectAll()
      .where("id", "=", sid)
      .executeTakeFirstOrThrow();
    expect(before.expires_at.getTime() - before.created_at.getTime()).toBe(90 * 86_400_000);
    expect(before.idle_expires_at.getTime() - before.created_at.getTime()).toBe(30 * 86_400_000);
    // Near the end of its absolute lifetime, a refresh does not extend it.
    const soon = new Date(Date.now() + 3_600_000);
    await db.updateTable("session").set({ expires_at: soon }).where("id", "=", sid).execute();
    await identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" });
    const after = await db
      .selectFrom("session")
      .selectAll()
      .where("id", "=", sid)
      .executeTakeFirstOrThrow();
    expect(after.idle_expires_at.getTime()).toBe(soon.getTime());
  });

  it("ends a session at its idle expiry and at its absolute expiry", async () => {
    const db = identity.app.deps.db.kysely;
    for (const column of ["idle_expires_at", "expires_at"] as const) {
      const account = newAccount();
      const { tokens } = await identity.auth.register(account);
      const other = await identity.auth.login(account);
      await db
        .updateTable("session")
        .set({ [column]: new Date(Date.now() - 1_000) })
        .where("id", "=", sidOf(tokens?.accessToken))
        .execute();
      const refused = await connectErrorOf(
        identity.auth.refresh({ refreshToken: tokens?.refreshToken ?? "" }),
      );
      expect(refused.code, column).toBe(Code.Unauthenticated);
      const listed = await identity.as(bearer(other.tokens?.accessToken)).auth.listSessions({});
      expect(
        listed.sessions.map((s) => s.id),
        column,
      ).toEqual([sidOf(other.tokens?.accessToken)]);
    }
  });

  it("purges old audit entries, abandoned OAuth flows and long-ended sessions", async () => {
    const db = identity.app.deps.db.kysely;
    const { user, tokens } = await identity.auth.register(newAccount());
    const old = new Date(Date.now() - 401 * 86_400_000);
    await db
      .updateTable("audit_event")
      .set({ occurred_at: old })
      .where("user_id", "=", user?.id ?? "")
      .execute();
    await db
      .updateTable("session")
      .set({ revoked_at: new Date(Date.now() - 2 * 86_400_000) })
      .where("id", "=", sidOf(tokens?.accessToken))
      .execute();
    const counts = await identity.app.maintenance.run();
    expect(counts.auditEvents).toBeGreaterThanOrEqual(1);
    expect(counts.sessions).toBeGreaterThanOrEqual(1);
    const left = await db
      .selectFrom("audit_event")
      .select("id")
      .where("user_id", "=", user?.id ?? "")
      .execute();
    expect(left).toEqual([]);
    const tokensLeft = await db
      .selectFrom("refresh_token")
      .select("generation")
      .where("session_id", "=", sidOf(tokens?.accessToken))
      .execute();
    expect(tokensLeft).toEqual([]);
  });
});

describe("sessions", () => {
  it("lists, revokes one, and logs out of all sessions", async () => {
    const account = newAccount();
    const first = await identity.as({ "user-agent": "Phone" }).auth.register(account);
    const second = await identity.as({ "user-agent": "Tablet" }).auth.login(account);
    const third = await identity.auth.login(account);
    const me = identity.as(bearer(second.tokens?.accessToken));

    const page1 = await me.auth.listSessions({ pageSize: 2 });
    expect(page1.sessions).toHaveLength(2);
    expect(page1.nextPageToken).not.toBe("");
    const page2 = await me.auth.listSessions({ pageSize: 2, pageToken: page1.nextPageToken });
    const all = [...page1.sessions, ...page2.sessions];
    expect(all).toHaveLength(3);
    expect(all.filter((s) => s.current)).toHaveLength(1);
    expect(all.find((s) => s.current)?.userAgent).toBe("Tablet");

    const firstSid = String(decodeJwt(first.tokens?.accessToken ?? "").sid);
    await me.auth.revokeSession({ sessionId: firstSid });
    expect(
      await connectErrorOf(identity.as(bearer(first.tokens?.accessToken)).users.getMe({})),
    ).toMatchObject({ code: Code.Unauthenticated });
    expect(await connectErrorOf(me.auth.revokeSession({ sessionId: firstSid }))).toMatchObject({
      code: Code.NotFound,
    });
    // Someone else's session is not found either, whatever its id.
    const stranger = await identity.auth.register(newAccount());
    const strangerSid = String(decodeJwt(stranger.tokens?.accessToken ?? "").sid);
    expect(await connectErrorOf(me.auth.revokeSession({ sessionId: strangerSid }))).toMatchObject({
      code: Code.NotFound,
    });
    expect(await connectErrorOf(me.auth.listSessions({ pageToken: "garbage" }))).toMatchObject({
      code: Code.InvalidArgument,
    });

    await me.auth.logoutAll({});
    for (const t of [second.tokens, third.tokens]) {
      expect(
        await connectErrorOf(identity.auth.refresh({ refreshToken: t?.refreshToken ?? "" })),
      ).toMatchObject({ code: Code.Unauthenticated });
    }
  });

  it("changes the password, revoking every other session but this one", async () => {
    const account = newAccount();
    const a = await identity.auth.register(account);
    const b = await identity.auth.login(account);
    const me = identity.as(bearer(a.tokens?.accessToken));
    const wrong = await connectErrorOf(
      me.auth.changePassword({
        currentPassword: "not it at all",
        newPassword: "a new long passphrase",
      }),
    );
    expect(wrong).toMatchObject({ code: Code.Unauthenticated });
    const weak = await connectErrorOf(
      me.auth.changePassword({ currentPassword: account.password, newPassword: "12345678" }),
    );
    expect(weak).toMatchObject({ code: Code.InvalidArgument });

    await me.auth.changePassword({
      currentPassword: account.password,
      newPassword: "a new long passphrase",
    });
    expect((await me.users.getMe({})).user?.email).toBe(account.email);
    expect(
      await connectErrorOf(identity.auth.refresh({ refreshToken: b.tokens?.refreshToken ?? "" })),
    ).toMatchObject({ code: Code.Unauthenticated });
    expect(await connectErrorOf(identity.auth.login(account))).toMatchObject({
      code: Code.Unauthenticated,
    });
    await identity.auth.login({ email: account.email, password: "a new long passphrase" });
  });
});
