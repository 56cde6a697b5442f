import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { principalOf, requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { pageOf, pageSizeOf } from "@kindred/paging";
import type { AuthService } from "@kindred/proto/identity/v1";
import {
  createUser,
  emailTakenError,
  isUniqueViolation,
  linkedProviders,
  liveUser,
} from "../accounts.ts";
import { audit } from "../audit.ts";
import type { IdentityDeps } from "../deps.ts";
import type { OAuthFlows } from "../oauth/flows.ts";
import {
  burnPasswordCheck,
  checkPasswordPolicy,
  hashPassword,
  verifyPassword,
} from "../passwords.ts";
import { normalizeEmail } from "../pii.ts";
import { requestMetaOf } from "../request-meta.ts";
import { restrictionOf, toUser } from "../users.ts";

/** One answer for an unknown e-mail and a wrong password, so sign-in reveals no accounts. */
const wrongCredentials = () =>
  new DomainError("unauthenticated", "the e-mail address or password is wrong", {
    reason: "WRONG_CREDENTIALS",
  });

function displayNameOf(raw: string): string {
  const name = raw.normalize("NFC").trim();
  if (name === "") throw new DomainError("invalid_argument", "display_name must not be blank");
  return name;
}

/** A response built as a plain object: the message's own type name is added by Connect. */
const init = <T extends object>(partial: T) => partial as Omit<T, "$typeName" | "$unknown">;

/** The session of the caller's token: methods about "this session" need one. */
function sessionOf(ctx: HandlerContext): { userId: string; sessionId: string } {
  const principal = requirePrincipal(ctx);
  if (principal.sessionId === undefined) {
    throw new DomainError("unauthenticated", "this access token belongs to no session");
  }
  return { userId: principal.userId, sessionId: principal.sessionId };
}

export function authService(
  deps: IdentityDeps,
  oauth: OAuthFlows,
): ServiceImpl<typeof AuthService> {
  const { db, sessions, limiter, vault, pageTokens } = deps;
  return {
    async register(req, ctx) {
      const meta = requestMetaOf(ctx);
      const email = normalizeEmail(req.email);
      const displayName = displayNameOf(req.displayName);
      checkPasswordPolicy(req.password, { email, displayName });
      if (
        (await db.kysely
          .selectFrom("app_user")
          .select("id")
          .where("email_index", "=", vault.index(email))
          .executeTakeFirst()) !== undefined
      ) {
        throw emailTakenError();
      }
      const passwordHash = await hashPassword(req.password);
      try {
        return await db.transaction(async (trx) => {
          const user = await createUser(
            deps,
            trx,
            { email, passwordHash, displayName, via: "password" },
            meta,
          );
          const { tokens } = await sessions.open(trx, user, meta);
          return { user: toUser(user, vault), tokens };
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw emailTakenError();
        throw err;
      }
    },

    async login(req, ctx) {
      const meta = requestMetaOf(ctx);
      const email = normalizeEmail(req.email);
      const account = vault.index(email).toString("hex");
      await limiter.check(meta.ip, account);
      const user = await db.kysely
        .selectFrom("app_user")
        .selectAll()
        .where("email_index", "=", vault.index(email))
        .where("deleted_at", "is", null)
        .executeTakeFirst();
      let ok = false;
      if (user?.password_hash === undefined || user.password_hash === null) {
        await burnPasswordCheck(req.password); // the same argon2id work as a real check
      } else {
        ok = await verifyPassword(req.password, user.password_hash);
      }
      if (!ok || user === undefined) {
        const { locked, lockSeconds } = await limiter.failure(meta.ip, account);
        await audit(
          db.kysely,
          {
            kind: "login_failed",
            userId: user?.id ?? null,
            details: {
              reason: user === undefined ? "unknown_email" : "wrong_password",
              ...(locked ? { lockedForSeconds: String(lockSeconds) } : {}),
            },
          },
          meta,
        );
        throw wrongCredentials();
      }
      const restriction = restrictionOf(user);
      if (restriction !== undefined) {
        await audit(
          db.kysely,
          { kind: "login_failed", userId: user.id, details: { reason: restriction.reason ?? "" } },
          meta,
        );
        throw restriction;
      }
      await limiter.success(account);
      return db.transaction(async (trx) => {
        const { tokens, sessionId } = await sessions.open(trx, user, meta);
        await audit(
          trx,
          { kind: "login_succeeded", userId: user.id, details: { via: "password", sessionId } },
          meta,
        );
        return { user: toUser(user, vault, await linkedProviders(trx, user.id)), tokens };
      });
    },

    async refresh(req, ctx) {
      return { tokens: await sessions.refresh(req.refreshToken, requestMetaOf(ctx)) };
    },

    async logout(req, ctx) {
      // Like RFC 7009: an unknown or already ended session is not an error.
      const session = await sessions.sessionOfRefreshToken(req.refreshToken);
      if (session !== undefined) {
        await db.transaction((trx) =>
          sessions.revokeWhere(trx, session.userId, "logged_out", requestMetaOf(ctx), {
            only: session.id,
          }),
        );
      }
      return {};
    },

    async logoutAll(_req, ctx) {
      const { userId } = sessionOf(ctx);
      await db.transaction((trx) =>
        sessions.revokeWhere(trx, userId, "revoked_by_user", requestMetaOf(ctx)),
      );
      return {};
    },

    async listSessions(req, ctx) {
      const { userId, sessionId } = sessionOf(ctx);
      const size = pageSizeOf(req.pageSize);
      const scope = `ListSessions:${userId}`;
      const after = pageTokens.decode(req.pageToken, scope);
      const now = new Date();
      let query = db.kysely
        .selectFrom("session")
        .selectAll()
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .where("idle_expires_at", ">", now);
      if (after !== undefined) {
        query = query.where((eb) =>
          eb.or([
            eb("last_used_at", "<", new Date(after.at)),
            eb.and([eb("last_used_at", "=", new Date(after.at)), eb("id", "<", after.id)]),
          ]),
        );
      }
      const rows = await query
        .orderBy("last_used_at", "desc")
        .orderBy("id", "desc")
        .limit(size + 1)
        .execute();
      const { rows: page, last } = pageOf(rows, size);
      return {
        sessions: page.map((s) => ({
          id: s.id,
          createdAt: timestampFromDate(s.created_at),
          lastUsedAt: timestampFromDate(s.last_used_at),
          expiresAt: timestampFromDate(s.expires_at),
          ipAddress: s.ip_address,
          userAgent: s.user_agent,
          current: s.id === sessionId,
        })),
        nextPageToken:
          last === undefined
            ? ""
            : pageTokens.encode({ at: last.last_used_at.getTime(), id: last.id }, scope),
      };
    },

    async revokeSession(req, ctx) {
      const { userId } = sessionOf(ctx);
      const revoked = await db.transaction((trx) =>
        sessions.revokeWhere(trx, userId, "revoked_by_user", requestMetaOf(ctx), {
          only: req.sessionId,
        }),
      );
      if (revoked.length === 0) throw new DomainError("not_found", "no such active session");
      return {};
    },

    async changePassword(req, ctx) {
      const { userId, sessionId } = sessionOf(ctx);
      const meta = requestMetaOf(ctx);
      const user = await liveUser(db.kysely, userId);
      const account = user.email_index?.toString("hex") ?? userId;
      await limiter.check(meta.ip, account);
      if (user.password_hash === null) {
        throw new DomainError(
          "failed_precondition",
          "this account signs in only through Google or Apple and has no password to change",
        );
      }
      if (!(await verifyPassword(req.currentPassword, user.password_hash))) {
        await limiter.failure(meta.ip, account);
        await audit(
          db.kysely,
          { kind: "login_failed", userId, details: { reason: "wrong_current_password" } },
          meta,
        );
        throw new DomainError("unauthenticated", "the current password is wrong", {
          reason: "WRONG_CREDENTIALS",
        });
      }
      const email =
        user.email_ciphertext === null ? undefined : vault.open(user.email_ciphertext, user.id);
      checkPasswordPolicy(req.newPassword, { email, displayName: user.display_name });
      const passwordHash = await hashPassword(req.newPassword);
      await db.transaction(async (trx) => {
        await trx
          .updateTable("app_user")
          .set({ password_hash: passwordHash, updated_at: new Date() })
          .where("id", "=", userId)
          .execute();
        await audit(trx, { kind: "password_changed", userId }, meta);
        await sessions.revokeWhere(trx, userId, "password_changed", meta, { except: sessionId });
      });
      return {};
    },

    startOAuth: async (req, ctx) =>
      init(await oauth.start(req, principalOf(ctx), requestMetaOf(ctx))),
    completeOAuth: async (req, ctx) => init(await oauth.complete(req, requestMetaOf(ctx))),
    linkOAuth: async (req, ctx) =>
      init(await oauth.link(req, requirePrincipal(ctx), requestMetaOf(ctx))),
    unlinkOAuth: async (req, ctx) =>
      init(await oauth.unlink(req, requirePrincipal(ctx), requestMetaOf(ctx))),
  };
}
