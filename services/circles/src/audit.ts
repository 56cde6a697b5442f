import type { HandlerContext } from "@connectrpc/connect";
import { newEventId } from "@kindred/events";
import { requestIdHeader } from "@kindred/runtime";
import type { Transaction } from "kysely";
import type { Caller } from "./access.ts";
import type { CirclesDatabase } from "./db/schema.ts";

export type AuditKind =
  | "circle_created"
  | "circle_updated"
  | "circle_archived"
  | "invite_created"
  | "invite_revoked"
  | "member_role_changed"
  | "member_removed"
  | "member_banned"
  | "member_unbanned";

export interface AuditEntry {
  kind: AuditKind;
  circleId: string;
  /** The member acted on, if any. */
  userId?: string;
  /** Facts of the action (a reason, a new role), never secrets such as invite codes. */
  details?: Record<string, string>;
}

/**
 * Records a management action in the caller's transaction. An action a platform moderator or
 * admin took on a circle they do not belong to says so (`as: "platform_staff"`).
 */
export async function audit(
  trx: Transaction<CirclesDatabase>,
  ctx: HandlerContext,
  by: { caller: Caller; role: string | undefined },
  entry: AuditEntry,
  at: Date,
): Promise<void> {
  await trx
    .insertInto("circle_audit")
    .values({
      id: newEventId(),
      circle_id: entry.circleId,
      kind: entry.kind,
      actor_id: by.caller.userId,
      user_id: entry.userId ?? null,
      occurred_at: at,
      request_id: (ctx.requestHeader.get(requestIdHeader) ?? "").slice(0, 128),
      details: {
        ...entry.details,
        ...(by.role === undefined && by.caller.staff ? { as: "platform_staff" } : {}),
      },
    })
    .execute();
}
