import type { HandlerContext } from "@connectrpc/connect";
import { hasRole, invalidTokenMessage, requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import type { Kysely, Selectable, Transaction } from "kysely";
import type { ModerationDatabase } from "./db/schema.ts";

export type Executor = Kysely<ModerationDatabase> | Transaction<ModerationDatabase>;
export type CaseRow = Selectable<ModerationDatabase["mod_case"]>;

/** Who is calling, as moderation's rules see them. */
export interface Caller {
  userId: string;
  /** A platform moderator or admin (token roles): sees and acts on every case. */
  platform: boolean;
  admin: boolean;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The signed-in caller; identity's user ids are UUIDs, and anything else is not its token. */
export function callerOf(ctx: HandlerContext): Caller {
  const principal = requirePrincipal(ctx);
  if (!uuidPattern.test(principal.userId)) {
    throw new DomainError("unauthenticated", invalidTokenMessage);
  }
  const admin = hasRole(principal, "admin");
  return {
    userId: principal.userId.toLowerCase(),
    platform: admin || hasRole(principal, "moderator"),
    admin,
  };
}

/**
 * The circles whose cases the caller may work: those where they are owner or moderator (from
 * circles' events, ADR 16). Platform moderators need no list: they see every case.
 */
export async function staffCircles(db: Executor, caller: Caller): Promise<string[]> {
  const rows = await db
    .selectFrom("circle_role")
    .select("circle_id")
    .where("user_id", "=", caller.userId)
    .where("left_at", "is", null)
    .where("role", "in", ["owner", "moderator"])
    .execute();
  return rows.map((r) => r.circle_id);
}

export const notModeratorMessage =
  "this call needs the moderator role, or the owner or moderator role of a circle";

/** Refuses callers who moderate nothing; returns the circles a circle moderator works. */
export async function requireModerator(db: Executor, caller: Caller): Promise<string[]> {
  if (caller.platform) return [];
  const circles = await staffCircles(db, caller);
  if (circles.length === 0) {
    throw new DomainError("permission_denied", notModeratorMessage, { reason: "NOT_A_MODERATOR" });
  }
  return circles;
}

export const caseNotFound = () =>
  new DomainError("not_found", "case not found", { reason: "CASE_NOT_FOUND" });

/** Whether a circle moderator of `circles` may see the case: circle-scoped, in one of them. */
export const circleMaySee = (row: CaseRow, circles: readonly string[]) =>
  row.scope === "circle" && row.circle_id !== null && circles.includes(row.circle_id);

/**
 * The case when the caller may see it; `not_found` otherwise, so that a case of another circle
 * looks like no case at all. With `lock`, the row stays locked until the transaction ends.
 */
export async function visibleCase(
  db: Executor,
  caller: Caller,
  caseId: string,
  { lock = false }: { lock?: boolean } = {},
): Promise<CaseRow> {
  const circles = await requireModerator(db, caller);
  let query = db.selectFrom("mod_case").selectAll().where("id", "=", caseId);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (row === undefined || !(caller.platform || circleMaySee(row, circles))) throw caseNotFound();
  return row;
}

/** Whether the caller's claim on the case is live at `now`. */
export const holdsClaim = (row: CaseRow, caller: Caller, now: Date) =>
  row.assignee_id === caller.userId &&
  row.claim_expires_at !== null &&
  row.claim_expires_at.getTime() > now.getTime();
