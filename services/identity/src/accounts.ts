import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DomainError } from "@kindred/errors";
import { identityEvents } from "@kindred/event-catalog";
import type { Kysely, Transaction } from "kysely";
import { audit } from "./audit.ts";
import type { IdentityDatabase } from "./db/schema.ts";
import type { IdentityDeps } from "./deps.ts";
import type { ProfileRow } from "./profile-cache.ts";
import type { RequestMeta } from "./request-meta.ts";
import type { RoleName, UserRow } from "./users.ts";

type Trx = Transaction<IdentityDatabase>;
type Reader = Trx | Kysely<IdentityDatabase>;

export const emailTakenError = () =>
  new DomainError("already_exists", "an account with this e-mail address already exists", {
    reason: "EMAIL_TAKEN",
  });

/** A Postgres unique violation (SQLSTATE 23505), e.g. two registrations of one e-mail at once. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "23505";
}

/**
 * Creates an account with its `identity.user.registered.v1` event and audit entry, in the
 * caller's transaction. `email` is normalized already; `passwordHash` is absent for OAuth.
 */
export async function createUser(
  deps: Pick<IdentityDeps, "vault" | "outbox">,
  trx: Trx,
  input: {
    email: string | undefined;
    passwordHash: string | null;
    displayName: string;
    via: string;
  },
  meta: RequestMeta,
): Promise<UserRow> {
  const id = randomUUID();
  const row = await trx
    .insertInto("app_user")
    .values({
      id,
      email_ciphertext: input.email === undefined ? null : deps.vault.seal(input.email, id),
      email_index: input.email === undefined ? null : deps.vault.index(input.email),
      display_name: input.displayName,
      password_hash: input.passwordHash,
      deleted_at: null,
      suspended_until: null,
      banned_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.outbox.enqueue(
    trx,
    identityEvents.userRegistered,
    {
      userId: row.id,
      displayName: row.display_name,
      createdAt: timestampFromDate(row.created_at),
    },
    { actorId: row.id, aggregateId: row.id },
  );
  await audit(trx, { kind: "registered", userId: row.id, details: { via: input.via } }, meta);
  return row;
}

/** A live (not deleted) account by id, or `not_found`. */
export async function liveUser(
  db: Reader,
  id: string,
  options: { lock?: boolean } = {},
): Promise<UserRow> {
  let query = db
    .selectFrom("app_user")
    .selectAll()
    .where("id", "=", id)
    .where("deleted_at", "is", null);
  if (options.lock === true) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (row === undefined) throw new DomainError("not_found", "no such user");
  return row;
}

/** A live account's public profile, or `not_found`; only the columns it shows are read. */
export async function publicProfile(db: Reader, id: string): Promise<ProfileRow> {
  const row = await db
    .selectFrom("app_user")
    .select(["id", "display_name", "bio", "created_at"])
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (row === undefined) throw new DomainError("not_found", "no such user");
  return row;
}

export async function linkedProviders(db: Reader, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom("oauth_identity")
    .select("provider")
    .where("user_id", "=", userId)
    .orderBy("provider")
    .execute();
  return rows.map((r) => r.provider);
}

/**
 * Replaces a user's platform roles (always keeping `member`), with the
 * `identity.roles.changed.v1` event and an audit entry. Tokens issued from now on carry them.
 */
export async function setRoles(
  deps: Pick<IdentityDeps, "outbox">,
  trx: Trx,
  userId: string,
  roles: readonly RoleName[],
  actorId: string | null,
  meta: RequestMeta,
): Promise<UserRow> {
  const before = await liveUser(trx, userId, { lock: true });
  const next = [...new Set<RoleName>(["member", ...roles])].sort(
    (a, b) => order.indexOf(a) - order.indexOf(b),
  );
  const row = await trx
    .updateTable("app_user")
    .set((eb) => ({ roles: next, version: eb("version", "+", "1"), updated_at: new Date() }))
    .where("id", "=", userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.outbox.enqueue(
    trx,
    identityEvents.rolesChanged,
    {
      userId,
      roles: next,
      changedBy: actorId ?? "",
      changedAt: timestampFromDate(row.updated_at),
    },
    { actorId: actorId ?? "system:operator", aggregateId: userId },
  );
  await audit(
    trx,
    {
      kind: "roles_changed",
      userId,
      actorId,
      details: { from: before.roles.join(","), to: next.join(",") },
    },
    meta,
  );
  return row;
}

const order: readonly RoleName[] = ["member", "moderator", "admin"];
