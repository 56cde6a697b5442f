import { newEventId } from "@kindred/events";
import type { Kysely, Transaction } from "kysely";
import type { IdentityDatabase } from "./db/schema.ts";
import type { RequestMeta } from "./request-meta.ts";

/**
 * What the audit log records (the proto's `AuditEventKind` without the prefix, lower-cased):
 * every security-relevant event of an account, with who, when, from where and which request.
 */
export const auditKinds = [
  "registered",
  "login_succeeded",
  "login_failed",
  "token_refreshed",
  "refresh_token_reused",
  "logged_out",
  "session_revoked",
  "password_changed",
  "roles_changed",
  "oauth_linked",
  "oauth_unlinked",
  "account_deleted",
  "account_restricted",
] as const;
export type AuditKind = (typeof auditKinds)[number];

export interface AuditEntry {
  kind: AuditKind;
  userId?: string | null | undefined;
  /** Who caused it; defaults to the user. `null` for the system or the operator. */
  actorId?: string | null | undefined;
  /** Event-specific facts, never secrets (no passwords, tokens or e-mail addresses). */
  details?: Record<string, string>;
}

/** Writes an audit entry in the caller's transaction (or alone, for a failure that changes nothing else). */
export async function audit(
  db: Transaction<IdentityDatabase> | Kysely<IdentityDatabase>,
  entry: AuditEntry,
  meta: RequestMeta,
): Promise<void> {
  await db
    .insertInto("audit_event")
    .values({
      id: newEventId(),
      kind: entry.kind,
      // Millisecond precision, like the page tokens that point into the log.
      occurred_at: new Date(),
      user_id: entry.userId ?? null,
      actor_id: entry.actorId === undefined ? (entry.userId ?? null) : entry.actorId,
      ip_address: meta.ip,
      user_agent: meta.userAgent,
      request_id: meta.requestId,
      details: entry.details ?? {},
    })
    .execute();
}
