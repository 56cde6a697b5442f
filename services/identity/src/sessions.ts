import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Database } from "@kindred/database";
import { DomainError } from "@kindred/errors";
import { identityEvents } from "@kindred/event-catalog";
import type { Outbox } from "@kindred/events";
import { SessionRevocationReason } from "@kindred/proto/identity/events/v1";
import type { AuthTokens } from "@kindred/proto/identity/v1";
import { sql, type Transaction } from "kysely";
import type { AccessTokens } from "./access-tokens.ts";
import { audit } from "./audit.ts";
import { randomToken, type SecretBox, tokenHash } from "./crypto.ts";
import type { IdentityDatabase } from "./db/schema.ts";
import type { RequestMeta } from "./request-meta.ts";

export interface SessionPolicy {
  idleTtlSeconds: number;
  absoluteTtlSeconds: number;
  graceSeconds: number;
}

export type RevocationReason =
  | "logged_out"
  | "revoked_by_user"
  | "password_changed"
  | "account_deleted"
  | "account_restricted"
  | "compromised"
  | "revoked_by_operator";

const reasonToProto: Record<RevocationReason, SessionRevocationReason> = {
  logged_out: SessionRevocationReason.LOGGED_OUT,
  revoked_by_user: SessionRevocationReason.REVOKED_BY_USER,
  password_changed: SessionRevocationReason.PASSWORD_CHANGED,
  account_deleted: SessionRevocationReason.ACCOUNT_DELETED,
  account_restricted: SessionRevocationReason.ACCOUNT_RESTRICTED,
  compromised: SessionRevocationReason.COMPROMISED,
  revoked_by_operator: SessionRevocationReason.REVOKED_BY_OPERATOR,
};

type Trx = Transaction<IdentityDatabase>;

interface IssuedPair {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
}

function toTokens(pair: IssuedPair): AuthTokens {
  return {
    $typeName: "kindred.identity.v1.AuthTokens",
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    accessTokenExpiresAt: timestampFromDate(new Date(pair.accessTokenExpiresAt)),
  };
}

/** The one answer for every refresh token that does not work: which case it was goes to logs. */
const refreshRefused = (cause: string) =>
  new DomainError(
    "unauthenticated",
    "the refresh token is invalid, expired or revoked; sign in again",
    {
      reason: "REFRESH_TOKEN_INVALID",
      cause: new Error(cause),
    },
  );

/**
 * Sessions and their refresh-token families (RFC 9700 §4.14): a refresh token is opaque,
 * 256 bits, stored only as a SHA-256 hash, and works once. Each use returns a new pair; the
 * session's row lock serializes concurrent refreshes, so one token can never start two
 * branches. A retry of the same token within the grace period gets the same pair back (kept
 * encrypted for that long), and any other second use revokes the whole session, its access
 * tokens included (a `SessionRevoked` event tells every verifier).
 */
export class Sessions {
  readonly #db: Database<IdentityDatabase>;
  readonly #tokens: AccessTokens;
  readonly #box: SecretBox;
  readonly #outbox: Outbox;
  readonly #policy: SessionPolicy;

  constructor(deps: {
    db: Database<IdentityDatabase>;
    tokens: AccessTokens;
    box: SecretBox;
    outbox: Outbox;
    policy: SessionPolicy;
  }) {
    this.#db = deps.db;
    this.#tokens = deps.tokens;
    this.#box = deps.box;
    this.#outbox = deps.outbox;
    this.#policy = deps.policy;
  }

  /** Starts a session for a user who just proved who they are; in the caller's transaction. */
  async open(
    trx: Trx,
    user: { id: string; roles: readonly string[] },
    meta: RequestMeta,
  ): Promise<{ sessionId: string; tokens: AuthTokens }> {
    const now = Date.now();
    const sessionId = randomUUID();
    const access = await this.#tokens.mint({ userId: user.id, sessionId, roles: user.roles, now });
    const refreshToken = randomToken();
    const expiresAt = new Date(now + this.#policy.absoluteTtlSeconds * 1000);
    await trx
      .insertInto("session")
      .values({
        id: sessionId,
        user_id: user.id,
        created_at: new Date(now),
        last_used_at: new Date(now),
        idle_expires_at: new Date(
          Math.min(now + this.#policy.idleTtlSeconds * 1000, expiresAt.getTime()),
        ),
        expires_at: expiresAt,
        access_expires_at: access.expiresAt,
        ip_address: meta.ip,
        user_agent: meta.userAgent,
      })
      .execute();
    await trx
      .insertInto("refresh_token")
      .values({ token_hash: tokenHash(refreshToken), session_id: sessionId, generation: 0 })
      .execute();
    return {
      sessionId,
      tokens: toTokens({
        accessToken: access.token,
        refreshToken,
        accessTokenExpiresAt: access.expiresAt.toISOString(),
      }),
    };
  }

  /** Exchanges a refresh token for the next pair (see the class comment for the rules). */
  async refresh(refreshToken: string, meta: RequestMeta): Promise<AuthTokens> {
    const hash = tokenHash(refreshToken);
    const outcome = await this.#db.transaction(async (trx) => {
      const presented = await trx
        .selectFrom("refresh_token")
        .select(["session_id"])
        .where("token_hash", "=", hash)
        .executeTakeFirst();
      if (presented === undefined) return { refused: "unknown refresh token" } as const;
      // Every refresh of a family waits here for the one before it to commit.
      const session = await trx
        .selectFrom("session")
        .innerJoin("app_user", "app_user.id", "session.user_id")
        .select([
          "session.id",
          "session.user_id",
          "session.generation",
          "session.revoked_at",
          "session.expires_at",
          "session.idle_expires_at",
          "session.access_expires_at",
          "app_user.roles",
          "app_user.deleted_at",
        ])
        .where("session.id", "=", presented.session_id)
        .forUpdate("session")
        .executeTakeFirstOrThrow();
      const token = await trx
        .selectFrom("refresh_token")
        .selectAll()
        .where("token_hash", "=", hash)
        .executeTakeFirstOrThrow();
      const now = Date.now();
      if (session.revoked_at !== null) return { refused: "session revoked" } as const;
      if (session.deleted_at !== null) return { refused: "account deleted" } as const;
      if (session.expires_at.getTime() <= now || session.idle_expires_at.getTime() <= now) {
        return { refused: "session expired" } as const;
      }

      if (token.rotated_at !== null) {
        const withinGrace = now - token.rotated_at.getTime() <= this.#policy.graceSeconds * 1000;
        // The same pair again only while its refresh token is the family's newest: a client
        // that lost the answer retries; anything else is a stolen token coming back.
        if (
          withinGrace &&
          token.generation === session.generation - 1 &&
          token.successor_ciphertext !== null
        ) {
          const pair = JSON.parse(
            this.#box.openText(token.successor_ciphertext, successorContext(hash)),
          ) as IssuedPair;
          return { tokens: toTokens(pair) } as const;
        }
        await markRevoked(this.#outbox, trx, [session], "compromised", meta, null);
        await this.#outbox.enqueue(
          trx,
          identityEvents.sessionCompromised,
          {
            sessionId: session.id,
            userId: session.user_id,
            detectedAt: timestampFromDate(new Date(now)),
            generation: BigInt(session.generation),
            ipAddress: meta.ip,
          },
          { actorId: session.user_id, aggregateId: session.id },
        );
        await audit(
          trx,
          {
            kind: "refresh_token_reused",
            userId: session.user_id,
            details: {
              sessionId: session.id,
              generation: String(token.generation),
              currentGeneration: String(session.generation),
            },
          },
          meta,
        );
        return { refused: "refresh token reused; session revoked" } as const;
      }

      const generation = session.generation + 1;
      const access = await this.#tokens.mint({
        userId: session.user_id,
        sessionId: session.id,
        roles: session.roles,
        now,
      });
      const next = randomToken();
      const pair: IssuedPair = {
        accessToken: access.token,
        refreshToken: next,
        accessTokenExpiresAt: access.expiresAt.toISOString(),
      };
      await trx
        .insertInto("refresh_token")
        .values({ token_hash: tokenHash(next), session_id: session.id, generation })
        .execute();
      await trx
        .updateTable("refresh_token")
        .set({
          rotated_at: new Date(now),
          successor_ciphertext: this.#box.seal(JSON.stringify(pair), successorContext(hash)),
        })
        .where("token_hash", "=", hash)
        .execute();
      await trx
        .updateTable("session")
        .set({
          generation,
          last_used_at: new Date(now),
          idle_expires_at: new Date(
            Math.min(now + this.#policy.idleTtlSeconds * 1000, session.expires_at.getTime()),
          ),
          access_expires_at: access.expiresAt,
          ip_address: meta.ip,
          user_agent: meta.userAgent,
        })
        .where("id", "=", session.id)
        .execute();
      await audit(
        trx,
        {
          kind: "token_refreshed",
          userId: session.user_id,
          details: { sessionId: session.id, generation: String(generation) },
        },
        meta,
      );
      return { tokens: toTokens(pair) } as const;
    });
    if (outcome.tokens === undefined) throw refreshRefused(outcome.refused);
    return outcome.tokens;
  }

  /** The session a refresh token belongs to, if it is still active. */
  async sessionOfRefreshToken(
    refreshToken: string,
  ): Promise<{ id: string; userId: string } | undefined> {
    const row = await this.#db.kysely
      .selectFrom("refresh_token")
      .innerJoin("session", "session.id", "refresh_token.session_id")
      .select(["session.id", "session.user_id"])
      .where("refresh_token.token_hash", "=", tokenHash(refreshToken))
      .where("session.revoked_at", "is", null)
      .executeTakeFirst();
    return row === undefined ? undefined : { id: row.id, userId: row.user_id };
  }

  /** See `revokeSessions`. */
  revokeWhere(
    trx: Trx,
    userId: string,
    reason: RevocationReason,
    meta: RequestMeta,
    options: RevokeOptions = {},
  ): Promise<string[]> {
    return revokeSessions(this.#outbox, trx, userId, reason, meta, options);
  }

  /** Drops what expired sessions and rotated tokens keep, once nothing can use it any more. */
  async purge(now = new Date()): Promise<number> {
    const graceCutoff = new Date(now.getTime() - this.#policy.graceSeconds * 1000);
    await this.#db.kysely
      .updateTable("refresh_token")
      .set({ successor_ciphertext: null })
      .where("rotated_at", "<", graceCutoff)
      .where("successor_ciphertext", "is not", null)
      .execute();
    const deleted = await this.#db.kysely
      .deleteFrom("session")
      .where((eb) =>
        eb.or([
          eb("expires_at", "<", sql<Date>`${now}::timestamptz - interval '1 day'`),
          eb("idle_expires_at", "<", sql<Date>`${now}::timestamptz - interval '1 day'`),
          eb("revoked_at", "<", sql<Date>`${now}::timestamptz - interval '1 day'`),
        ]),
      )
      .executeTakeFirst();
    return Number(deleted.numDeletedRows);
  }
}

/** Binds a stored successor pair to the token it answers. */
const successorContext = (hash: Buffer) => `refresh-successor:${hash.toString("hex")}`;

export interface RevokeOptions {
  /** Only this session. */
  only?: string;
  /** Every session but this one (the caller's, on a password change). */
  except?: string;
  /** Who did it, when not the user: an admin's id, or `null` for the system or an operator. */
  actorId?: string | null;
}

/**
 * Revokes the user's active sessions that `options` select (all by default), each with a
 * `SessionRevoked` event and an audit entry, in the caller's transaction. Returns their ids.
 */
export async function revokeSessions(
  outbox: Outbox,
  trx: Trx,
  userId: string,
  reason: RevocationReason,
  meta: RequestMeta,
  options: RevokeOptions = {},
): Promise<string[]> {
  let query = trx
    .selectFrom("session")
    .select(["id", "user_id", "access_expires_at"])
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", new Date());
  if (options.only !== undefined) query = query.where("id", "=", options.only);
  if (options.except !== undefined) query = query.where("id", "!=", options.except);
  const sessions = await query.forUpdate().execute();
  await markRevoked(
    outbox,
    trx,
    sessions,
    reason,
    meta,
    options.actorId === undefined ? userId : options.actorId,
  );
  return sessions.map((s) => s.id);
}

async function markRevoked(
  outbox: Outbox,
  trx: Trx,
  sessions: readonly { id: string; user_id: string; access_expires_at: Date }[],
  reason: RevocationReason,
  meta: RequestMeta,
  actorId: string | null,
): Promise<void> {
  if (sessions.length === 0) return;
  const now = new Date();
  const ids = sessions.map((s) => s.id);
  await trx
    .updateTable("session")
    .set({ revoked_at: now, revoke_reason: reason })
    .where("id", "in", ids)
    .execute();
  // The grace copies are useless now; drop the secrets they hold.
  await trx
    .updateTable("refresh_token")
    .set({ successor_ciphertext: null })
    .where("session_id", "in", ids)
    .where("successor_ciphertext", "is not", null)
    .execute();
  for (const session of sessions) {
    await outbox.enqueue(
      trx,
      identityEvents.sessionRevoked,
      {
        sessionId: session.id,
        userId: session.user_id,
        reason: reasonToProto[reason],
        revokedAt: timestampFromDate(now),
        tokensExpireAt: timestampFromDate(session.access_expires_at),
      },
      { actorId: actorId ?? "system:identity", aggregateId: session.id },
    );
    await audit(
      trx,
      {
        kind: reason === "logged_out" ? "logged_out" : "session_revoked",
        userId: session.user_id,
        actorId,
        details: { sessionId: session.id, reason },
      },
      meta,
    );
  }
}
