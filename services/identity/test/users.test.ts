import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { identityEvents } from "@kindred/event-catalog";
import { AuditEventKind, Role } from "@kindred/proto/identity/v1";
import { connectErrorOf, testServiceEnv } from "@kindred/service-kit";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRevokeSessionsCommand, runRoleCommand } from "../src/admin-command.ts";
import { loadIdentityConfig } from "../src/config.ts";
import { bearer, type IdentityUnderTest, newAccount, startIdentity } from "./helpers.ts";

let identity: IdentityUnderTest;

beforeAll(async () => {
  identity = await startIdentity();
});
afterAll(async () => {
  await identity?.[Symbol.asyncDispose]();
});

async function signUp(name = "Sam") {
  const account = newAccount(name);
  const { user, tokens } = await identity.auth.register(account);
  return { account, user, tokens, as: identity.as(bearer(tokens?.accessToken)) };
}

async function outboxSubjects(aggregateId: string): Promise<string[]> {
  const rows = await identity.app.deps.db.kysely
    .selectFrom("event_outbox")
    .select(["subject", "payload"])
    .where("aggregate_key", "like", `%${aggregateId}`)
    .orderBy("seq")
    .execute();
  return rows.map((r) => r.subject.replace(`${identity.namespace}.`, ""));
}

const operatorConfig = () =>
  loadIdentityConfig(
    testServiceEnv({ database: identity.db, extra: { EVENTS_NAMESPACE: identity.namespace } }),
  );

/** The operator command, against this test's database, the way `npm run admin` runs it. */
async function operator(action: "grant" | "revoke", email: string, role: string) {
  const lines: string[] = [];
  await runRoleCommand(operatorConfig(), action, [email, role], (line) => lines.push(line));
  return lines;
}

describe("profiles", () => {
  it("reads me and others' public profiles, and updates with optimistic concurrency", async () => {
    const me = await signUp("Kim");
    const other = await signUp("Lee");
    const { user } = await me.as.users.getMe({});
    expect(user).toMatchObject({ displayName: "Kim", email: me.account.email, version: 1n });

    const { profile } = await me.as.users.getUser({ userId: other.user?.id ?? "" });
    expect(profile).toMatchObject({ id: other.user?.id, displayName: "Lee", bio: "" });
    expect(Object.keys(profile ?? {})).not.toContain("email");
    expect(
      await connectErrorOf(me.as.users.getUser({ userId: crypto.randomUUID() })),
    ).toMatchObject({ code: Code.NotFound });
    expect(
      await connectErrorOf(identity.users.getUser({ userId: other.user?.id ?? "" })),
    ).toMatchObject({ code: Code.Unauthenticated });

    const updated = await me.as.users.updateProfile({
      bio: "  here to listen ",
      expectedVersion: 1n,
    });
    expect(updated.user).toMatchObject({ bio: "here to listen", displayName: "Kim", version: 2n });
    const stale = await connectErrorOf(
      me.as.users.updateProfile({ displayName: "Kimmy", expectedVersion: 1n }),
    );
    expect(stale).toMatchObject({ code: Code.Aborted });
    expect(stale.rawMessage).toContain("version 2");
    const empty = await connectErrorOf(me.as.users.updateProfile({ expectedVersion: 2n }));
    expect(empty).toMatchObject({ code: Code.InvalidArgument });
    expect((await me.as.users.getMe({})).user?.displayName).toBe("Kim");
  });
});

describe("blocks", () => {
  it("blocks and unblocks idempotently, with one event per change, and lists newest first", async () => {
    const me = await signUp();
    const a = await signUp("Ana");
    const b = await signUp("Bo");
    expect(
      await connectErrorOf(me.as.users.blockUser({ userId: me.user?.id ?? "" })),
    ).toMatchObject({ code: Code.InvalidArgument });
    expect(
      await connectErrorOf(me.as.users.blockUser({ userId: crypto.randomUUID() })),
    ).toMatchObject({ code: Code.NotFound });

    await me.as.users.blockUser({ userId: a.user?.id ?? "" });
    await me.as.users.blockUser({ userId: a.user?.id ?? "" });
    await new Promise((r) => setTimeout(r, 5));
    await me.as.users.blockUser({ userId: b.user?.id ?? "" });
    const first = await me.as.users.listBlocked({ pageSize: 1 });
    expect(first.blocked.map((x) => x.profile?.displayName)).toEqual(["Bo"]);
    const second = await me.as.users.listBlocked({ pageSize: 1, pageToken: first.nextPageToken });
    expect(second.blocked.map((x) => x.profile?.displayName)).toEqual(["Ana"]);
    expect(second.nextPageToken).toBe("");

    await me.as.users.unblockUser({ userId: a.user?.id ?? "" });
    await me.as.users.unblockUser({ userId: a.user?.id ?? "" });
    expect((await me.as.users.listBlocked({})).blocked).toHaveLength(1);
    expect(await outboxSubjects(me.user?.id ?? "")).toEqual([
      "identity.user.registered.v1",
      "identity.user.blocked.v1",
      "identity.user.blocked.v1",
      "identity.user.unblocked.v1",
    ]);
  });
});

describe("roles and the audit log", () => {
  it("keeps admin methods for admins (checked in the token and the database), made by the operator command", async () => {
    const admin = await signUp("Admin");
    const member = await signUp("Member");
    for (const call of [
      () =>
        member.as.users.setRoles({
          userId: member.user?.id ?? "",
          roles: [Role.MEMBER, Role.ADMIN],
        }),
      () => member.as.users.listAuditEvents({}),
    ]) {
      expect(await connectErrorOf(call())).toMatchObject({ code: Code.PermissionDenied });
    }

    expect(await operator("grant", admin.account.email.toUpperCase(), "admin")).toEqual([
      "roles are now: member, admin",
    ]);
    await expect(operator("grant", "nobody@example.org", "admin")).rejects.toThrow(
      "no account has that e-mail address",
    );
    await expect(operator("grant", admin.account.email, "superuser")).rejects.toThrow(
      "unknown role",
    );
    // The old token predates the grant; a new sign-in carries the role.
    expect(await connectErrorOf(admin.as.users.listAuditEvents({}))).toMatchObject({
      code: Code.PermissionDenied,
    });
    const { tokens } = await identity.auth.login(admin.account);
    expect(decodeJwt(tokens?.accessToken ?? "").roles).toEqual(["member", "admin"]);
    const asAdmin = identity.as(bearer(tokens?.accessToken));

    const invalid = await connectErrorOf(
      asAdmin.users.setRoles({ userId: member.user?.id ?? "", roles: [Role.MODERATOR] }),
    );
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("ROLE_MEMBER");
    const { user } = await asAdmin.users.setRoles({
      userId: member.user?.id ?? "",
      roles: [Role.MEMBER, Role.MODERATOR],
    });
    expect(user?.roles).toEqual([Role.MEMBER, Role.MODERATOR]);
    expect(
      await connectErrorOf(
        asAdmin.users.setRoles({ userId: admin.user?.id ?? "", roles: [Role.MEMBER] }),
      ),
    ).toMatchObject({ code: Code.FailedPrecondition });

    const log = await asAdmin.users.listAuditEvents({
      userId: member.user?.id ?? "",
      kind: AuditEventKind.ROLES_CHANGED,
    });
    expect(log.events).toHaveLength(1);
    expect(log.events[0]).toMatchObject({
      actorId: admin.user?.id,
      details: { from: "member", to: "member,moderator" },
    });
    const operatorEntry = await asAdmin.users.listAuditEvents({
      userId: admin.user?.id ?? "",
      kind: AuditEventKind.ROLES_CHANGED,
    });
    expect(operatorEntry.events[0]).toMatchObject({
      actorId: "",
      userAgent: "kindred-identity admin command",
    });

    // Paging walks the whole log newest first without repeats.
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await asAdmin.users.listAuditEvents({ pageSize: 3, pageToken });
      seen.push(...page.events.map((e) => e.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThan(5);

    // Demoted in the database: the still-valid admin token stops working for admin methods.
    await operator("revoke", admin.account.email, "admin");
    expect(await connectErrorOf(asAdmin.users.listAuditEvents({}))).toMatchObject({
      code: Code.PermissionDenied,
    });
    const events = await identity.app.deps.db.kysely
      .selectFrom("event_outbox")
      .select("payload")
      .where("subject", "=", `${identity.namespace}.identity.roles.changed.v1`)
      .orderBy("seq")
      .execute();
    expect(
      events.map((e) => fromBinary(identityEvents.rolesChanged.schema, e.payload).roles),
    ).toEqual([["member", "admin"], ["member", "moderator"], ["member"]]);
  });
});

describe("operator session revocation", () => {
  it("ends every session of one user and leaves others alone", async () => {
    const target = await signUp("Target");
    await identity.auth.login(target.account);
    const bystander = await signUp("Bystander");
    const lines: string[] = [];
    await runRevokeSessionsCommand(operatorConfig(), [target.account.email], (l) => lines.push(l));
    expect(lines).toEqual(["revoked 2 session(s)"]);
    expect(await connectErrorOf(target.as.users.getMe({}))).toMatchObject({
      code: Code.Unauthenticated,
    });
    await bystander.as.users.getMe({});
    const audit = await identity.app.deps.db.kysely
      .selectFrom("audit_event")
      .select(["actor_id", "details"])
      .where("user_id", "=", target.user?.id ?? "")
      .where("kind", "=", "session_revoked")
      .execute();
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({ actor_id: null, details: { reason: "revoked_by_operator" } });
  });
});

describe("account deletion", () => {
  it("needs the password, then removes personal data, ends sessions and frees the e-mail", async () => {
    const me = await signUp("Leaving");
    const wrong = await connectErrorOf(me.as.users.deleteAccount({ password: "not my password" }));
    expect(wrong).toMatchObject({ code: Code.Unauthenticated });
    await me.as.users.deleteAccount({ password: me.account.password });

    expect(await connectErrorOf(me.as.users.getMe({}))).toMatchObject({
      code: Code.Unauthenticated,
    });
    expect(
      await connectErrorOf(identity.auth.refresh({ refreshToken: me.tokens?.refreshToken ?? "" })),
    ).toMatchObject({ code: Code.Unauthenticated });
    expect(await connectErrorOf(identity.auth.login(me.account))).toMatchObject({
      code: Code.Unauthenticated,
    });
    const row = await identity.app.deps.db.kysely
      .selectFrom("app_user")
      .selectAll()
      .where("id", "=", me.user?.id ?? "")
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      email_ciphertext: null,
      email_index: null,
      password_hash: null,
      display_name: "Deleted user",
    });
    expect(row.deleted_at).not.toBeNull();
    expect(await outboxSubjects(me.user?.id ?? "")).toEqual([
      "identity.user.registered.v1",
      "identity.user.deleted.v1",
    ]);
    const again = await identity.auth.register(me.account);
    expect(again.user?.id).not.toBe(me.user?.id);
  });
});
