import type { HandlerContext } from "@connectrpc/connect";
import { newEventId } from "@kindred/events";
import { requestIdHeader } from "@kindred/runtime";
import type { Transaction } from "kysely";
import type { Caller } from "./access.ts";
import { type Actor, userOf } from "./actor.ts";
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
 * Records an action on a circle in the action's transaction. `requestId` names the request (or,
 * for circles' own actions, the correlation id of the event it reacted to). An action circles
 * took on its own has no `actor_id`; its details say which component took it (`by`).
 */
export async function recordAudit(
  trx: Transaction<CirclesDatabase>,
  by: { actor: Actor; requestId: string },
  entry: AuditEntry,
  at: Date,
): Promise<void> {
  const { actor } = by;
  await trx
    .insertInto("circle_audit")
    .values({
      id: newEventId(),
      circle_id: entry.circleId,
      kind: entry.kind,
      actor_id: userOf(actor),
      user_id: entry.userId ?? null,
      occurred_at: at,
      request_id: by.requestId.slice(0, 128),
      details: { ...entry.details, ...("system" in actor ? { by: actor.system } : {}) },
    })
    .execute();
}

/**
 * Records a management action of an RPC caller. An action a platform moderator or admin took on
 * a circle they do not belong to says so (`as: "platform_staff"`).
 */
export function audit(
  trx: Transaction<CirclesDatabase>,
  ctx: HandlerContext,
  by: { caller: Caller; role: string | undefined },
  entry: AuditEntry,
  at: Date,
): Promise<void> {
  return recordAudit(
    trx,
    { actor: by.caller, requestId: ctx.requestHeader.get(requestIdHeader) ?? "" },
    {
      ...entry,
      details: {
        ...entry.details,
        ...(by.role === undefined && by.caller.staff ? { as: "platform_staff" } : {}),
      },
    },
    at,
  );
}
