import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { identityEvents } from "@kindred/event-catalog";
import { pageOf, pageSizeOf } from "@kindred/paging";
import { AuditEventKind, type PublicProfile, type UserService } from "@kindred/proto/identity/v1";
import { linkedProviders, liveUser, publicProfile, setRoles } from "../accounts.ts";
import { type AuditKind, audit, auditKinds } from "../audit.ts";
import type { IdentityDeps } from "../deps.ts";
import { burnPasswordCheck, verifyPassword } from "../passwords.ts";
import type { ProfileRow } from "../profile-cache.ts";
import { requestMetaOf } from "../request-meta.ts";
import { roleFromProto, toUser } from "../users.ts";

/** An account without a password confirms deletion by having signed in this recently. */
const recentSignInMs = 10 * 60_000;

function toProfile(row: ProfileRow): PublicProfile {
  return {
    $typeName: "kindred.identity.v1.PublicProfile",
    id: row.id,
    displayName: row.display_name,
    bio: row.bio,
    createdAt: timestampFromDate(row.created_at),
  };
}

function kindToProto(kind: string): AuditEventKind {
  return (
    (AuditEventKind as unknown as Record<string, AuditEventKind>)[kind.toUpperCase()] ??
    AuditEventKind.UNSPECIFIED
  );
}

function kindFromProto(kind: AuditEventKind): AuditKind {
  const name = AuditEventKind[kind]?.toLowerCase();
  const found = auditKinds.find((k) => k === name);
  if (found === undefined) throw new DomainError("invalid_argument", "kind must be a defined kind");
  return found;
}

export function userService(deps: IdentityDeps): ServiceImpl<typeof UserService> {
  const { db, vault, outbox, sessions, pageTokens, profiles } = deps;

  /**
   * Admin methods check the role in the token and again in the database, so an admin whose
   * role was just removed cannot use a token issued before (roles in tokens live 10 minutes).
   */
  async function requireAdmin(ctx: HandlerContext): Promise<string> {
    const principal = requirePrincipal(ctx);
    const denied = () => new DomainError("permission_denied", "this method is for admins only");
    if (!principal.roles.includes("admin")) throw denied();
    const row = await liveUser(db.kysely, principal.userId).catch(() => undefined);
    if (row === undefined || !row.roles.includes("admin")) throw denied();
    return principal.userId;
  }

  return {
    async getMe(_req, ctx) {
      const { userId } = requirePrincipal(ctx);
      const row = await liveUser(db.kysely, userId);
      return { user: toUser(row, vault, await linkedProviders(db.kysely, userId)) };
    },

    async getUser(req, ctx) {
      requirePrincipal(ctx);
      const row = await profiles.get(req.userId, () => publicProfile(db.kysely, req.userId));
      return { profile: toProfile(row) };
    },

    async updateProfile(req, ctx) {
      const { userId } = requirePrincipal(ctx);
      const displayName = req.displayName?.normalize("NFC").trim();
      if (displayName === "") {
        throw new DomainError("invalid_argument", "display_name must not be blank");
      }
      const bio = req.bio?.normalize("NFC").trim();
      const row = await db.transaction(async (trx) => {
        const current = await liveUser(trx, userId, { lock: true });
        if (BigInt(current.version) !== req.expectedVersion) {
          throw new DomainError(
            "aborted",
            `the profile changed since it was read (now version ${current.version}); reload and retry`,
            { reason: "VERSION_MISMATCH" },
          );
        }
        profiles.invalidateOnCommit(trx, userId);
        return trx
          .updateTable("app_user")
          .set((eb) => ({
            ...(displayName === undefined ? {} : { display_name: displayName }),
            ...(bio === undefined ? {} : { bio }),
            version: eb("version", "+", "1"),
            updated_at: new Date(),
          }))
          .where("id", "=", userId)
          .returningAll()
          .executeTakeFirstOrThrow();
      });
      return { user: toUser(row, vault, await linkedProviders(db.kysely, userId)) };
    },

    async deleteAccount(req, ctx) {
      const principal = requirePrincipal(ctx);
      const meta = requestMetaOf(ctx);
      const user = await liveUser(db.kysely, principal.userId);
      if (user.password_hash === null) {
        await burnPasswordCheck(req.password);
        const session = await db.kysely
          .selectFrom("session")
          .select("created_at")
          .where("id", "=", principal.sessionId ?? "00000000-0000-0000-0000-000000000000")
          .executeTakeFirst();
        if (session === undefined || Date.now() - session.created_at.getTime() > recentSignInMs) {
          throw new DomainError(
            "failed_precondition",
            "sign in again (within the last 10 minutes) to delete this account",
            { reason: "RECENT_SIGN_IN_REQUIRED" },
          );
        }
      } else if (!(await verifyPassword(req.password, user.password_hash))) {
        throw new DomainError("unauthenticated", "the password is wrong", {
          reason: "WRONG_CREDENTIALS",
        });
      }
      await db.transaction(async (trx) => {
        const now = new Date();
        // Soft delete: the row stays (ids in other services keep resolving to "deleted user")
        // but nothing personal does; the e-mail is free to register again.
        await trx
          .updateTable("app_user")
          .set((eb) => ({
            deleted_at: now,
            email_ciphertext: null,
            email_index: null,
            password_hash: null,
            display_name: "Deleted user",
            bio: "",
            version: eb("version", "+", "1"),
            updated_at: now,
          }))
          .where("id", "=", user.id)
          .execute();
        profiles.invalidateOnCommit(trx, user.id);
        await trx.deleteFrom("oauth_identity").where("user_id", "=", user.id).execute();
        await trx
          .deleteFrom("user_block")
          .where((eb) => eb.or([eb("blocker_id", "=", user.id), eb("blocked_id", "=", user.id)]))
          .execute();
        await sessions.revokeWhere(trx, user.id, "account_deleted", meta);
        await outbox.enqueue(
          trx,
          identityEvents.userDeleted,
          { userId: user.id, deletedAt: timestampFromDate(now) },
          { actorId: user.id, aggregateId: user.id },
        );
        await audit(trx, { kind: "account_deleted", userId: user.id }, meta);
      });
      return {};
    },

    async blockUser(req, ctx) {
      const { userId } = requirePrincipal(ctx);
      if (req.userId === userId) {
        throw new DomainError("invalid_argument", "user_id must not be your own id");
      }
      await db.transaction(async (trx) => {
        await liveUser(trx, req.userId);
        const now = new Date();
        const inserted = await trx
          .insertInto("user_block")
          .values({ blocker_id: userId, blocked_id: req.userId, created_at: now })
          .onConflict((oc) => oc.doNothing())
          .returning("blocked_id")
          .executeTakeFirst();
        if (inserted === undefined) return; // already blocked: nothing changes, no event
        await outbox.enqueue(
          trx,
          identityEvents.userBlocked,
          { blockerId: userId, blockedId: req.userId, blockedAt: timestampFromDate(now) },
          { actorId: userId, aggregateId: userId },
        );
      });
      return {};
    },

    async unblockUser(req, ctx) {
      const { userId } = requirePrincipal(ctx);
      await db.transaction(async (trx) => {
        const removed = await trx
          .deleteFrom("user_block")
          .where("blocker_id", "=", userId)
          .where("blocked_id", "=", req.userId)
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) === 0) return;
        await outbox.enqueue(
          trx,
          identityEvents.userUnblocked,
          {
            blockerId: userId,
            blockedId: req.userId,
            unblockedAt: timestampFromDate(new Date()),
          },
          { actorId: userId, aggregateId: userId },
        );
      });
      return {};
    },

    async listBlocked(req, ctx) {
      const { userId } = requirePrincipal(ctx);
      const size = pageSizeOf(req.pageSize);
      const scope = `ListBlocked:${userId}`;
      const after = pageTokens.decode(req.pageToken, scope);
      let query = db.kysely
        .selectFrom("user_block")
        .innerJoin("app_user", "app_user.id", "user_block.blocked_id")
        .selectAll("app_user")
        .select("user_block.created_at as blocked_at")
        .where("user_block.blocker_id", "=", userId);
      if (after !== undefined) {
        query = query.where((eb) =>
          eb.or([
            eb("user_block.created_at", "<", new Date(after.at)),
            eb.and([
              eb("user_block.created_at", "=", new Date(after.at)),
              eb("user_block.blocked_id", "<", after.id),
            ]),
          ]),
        );
      }
      const rows = await query
        .orderBy("user_block.created_at", "desc")
        .orderBy("user_block.blocked_id", "desc")
        .limit(size + 1)
        .execute();
      const { rows: page, last } = pageOf(rows, size);
      return {
        blocked: page.map((row) => ({
          profile: toProfile(row),
          blockedAt: timestampFromDate(row.blocked_at),
        })),
        nextPageToken:
          last === undefined
            ? ""
            : pageTokens.encode({ at: last.blocked_at.getTime(), id: last.id }, scope),
      };
    },

    async setRoles(req, ctx) {
      const adminId = await requireAdmin(ctx);
      const roles = req.roles.map(roleFromProto);
      if (req.userId === adminId && !roles.includes("admin")) {
        throw new DomainError(
          "failed_precondition",
          "you cannot remove your own admin role; ask another admin",
        );
      }
      const row = await db.transaction((trx) =>
        setRoles(deps, trx, req.userId, roles, adminId, requestMetaOf(ctx)),
      );
      return { user: toUser(row, vault, await linkedProviders(db.kysely, row.id)) };
    },

    async listAuditEvents(req, ctx) {
      await requireAdmin(ctx);
      const size = pageSizeOf(req.pageSize);
      const scope = `ListAuditEvents:${req.userId ?? "*"}:${req.kind ?? "*"}`;
      const after = pageTokens.decode(req.pageToken, scope);
      let query = db.kysely.selectFrom("audit_event").selectAll();
      if (req.userId !== undefined) query = query.where("user_id", "=", req.userId);
      if (req.kind !== undefined) query = query.where("kind", "=", kindFromProto(req.kind));
      if (after !== undefined) {
        query = query.where((eb) =>
          eb.or([
            eb("occurred_at", "<", new Date(after.at)),
            eb.and([eb("occurred_at", "=", new Date(after.at)), eb("id", "<", after.id)]),
          ]),
        );
      }
      const rows = await query
        .orderBy("occurred_at", "desc")
        .orderBy("id", "desc")
        .limit(size + 1)
        .execute();
      const { rows: page, last } = pageOf(rows, size);
      return {
        events: page.map((row) => ({
          id: row.id,
          kind: kindToProto(row.kind),
          userId: row.user_id ?? "",
          actorId: row.actor_id ?? "",
          occurredAt: timestampFromDate(row.occurred_at),
          ipAddress: row.ip_address,
          userAgent: row.user_agent,
          requestId: row.request_id,
          details: row.details,
        })),
        nextPageToken:
          last === undefined
            ? ""
            : pageTokens.encode({ at: last.occurred_at.getTime(), id: last.id }, scope),
      };
    },
  };
}
