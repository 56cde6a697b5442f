import type { HandlerContext } from "@connectrpc/connect";
import { hasRole, invalidTokenMessage, requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import type { Kysely, Transaction } from "kysely";
import type { CircleRoleName, CirclesDatabase } from "./db/schema.ts";
import type { CircleRow } from "./mapping.ts";

export type Executor = Kysely<CirclesDatabase> | Transaction<CirclesDatabase>;

/** Who is calling, as circles' rules see them. */
export interface Caller {
  userId: string;
  /** A platform moderator or admin (token roles): may read and manage any circle. */
  staff: boolean;
}

/** The caller and where they stand in one circle. */
export interface Standing {
  caller: Caller;
  circle: CircleRow;
  /** The caller's role in the circle; `undefined` when they are not a member. */
  role: CircleRoleName | undefined;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Identity's user ids are UUIDs. */
export const isUuid = (id: string) => uuidPattern.test(id);

/** The signed-in caller; identity's user ids are UUIDs, and anything else is not its token. */
export function callerOf(ctx: HandlerContext): Caller {
  const principal = requirePrincipal(ctx);
  if (!isUuid(principal.userId)) {
    throw new DomainError("unauthenticated", invalidTokenMessage);
  }
  return {
    userId: principal.userId.toLowerCase(),
    staff: hasRole(principal, "moderator") || hasRole(principal, "admin"),
  };
}

/** Request ids are validated as UUIDs; compare them in one case. */
export const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export const circleNotFound = () =>
  new DomainError("not_found", "circle not found", { reason: "CIRCLE_NOT_FOUND" });

/**
 * The circle and the caller's membership, `undefined` when there is no such circle. With
 * `lock`, the circle row is locked until the transaction ends: every change to a circle or its
 * membership takes this lock first, so versions, member counts and the owner rule never race.
 */
export async function standingIn(
  db: Executor,
  caller: Caller,
  circleId: string,
  { lock = false }: { lock?: boolean } = {},
): Promise<Standing | undefined> {
  let query = db.selectFrom("circle").selectAll().where("id", "=", circleId);
  if (lock) query = query.forUpdate();
  const circle = await query.executeTakeFirst();
  if (circle === undefined) return undefined;
  const member = await db
    .selectFrom("circle_member")
    .select("role")
    .where("circle_id", "=", circleId)
    .where("user_id", "=", caller.userId)
    .executeTakeFirst();
  return { caller, circle, role: member?.role };
}

/** Members and platform staff see a circle; everyone signed in sees an open one. */
export const canSee = (s: Standing) =>
  s.role !== undefined || s.caller.staff || s.circle.visibility === "open";

/**
 * The circle when the caller may know that it exists; otherwise `not_found`, the same answer
 * as for an id that was never used, so invite-only circles cannot be probed.
 */
export async function visibleCircle(
  db: Executor,
  caller: Caller,
  circleId: string,
  options: { lock?: boolean } = {},
): Promise<Standing> {
  const standing = await standingIn(db, caller, circleId, options);
  if (standing === undefined || !canSee(standing)) throw circleNotFound();
  return standing;
}

/** Members of any role, and platform staff. */
export function requireMember(s: Standing, toDo: string): void {
  if (s.role === undefined && !s.caller.staff) {
    throw new DomainError("permission_denied", `only members of this circle can ${toDo}`, {
      reason: "NOT_A_MEMBER",
    });
  }
}

/** The circle's owners and moderators, and platform staff. */
export function requireManager(s: Standing, toDo: string): void {
  if (s.role !== "owner" && s.role !== "moderator" && !s.caller.staff) {
    throw new DomainError(
      "permission_denied",
      `only the circle's owners and moderators can ${toDo}`,
      { reason: "NOT_A_CIRCLE_MODERATOR" },
    );
  }
}

/** The circle's owners, and platform staff. */
export function requireOwner(s: Standing, toDo: string): void {
  if (s.role !== "owner" && !s.caller.staff) {
    throw new DomainError("permission_denied", `only the circle's owners can ${toDo}`, {
      reason: "NOT_A_CIRCLE_OWNER",
    });
  }
}

/** Nothing is added to an archived circle: no members, invites or settings. */
export function requireActive(s: Standing, toDo: string): void {
  if (s.circle.archived_at !== null) {
    throw new DomainError(
      "failed_precondition",
      `the circle is archived and read-only: you cannot ${toDo}`,
      { reason: "CIRCLE_ARCHIVED" },
    );
  }
}

/**
 * Circle moderators act on regular members only; owners and platform staff on anyone (the
 * owner rule still applies).
 */
export function requireMayActOn(s: Standing, target: CircleRoleName, toDo: string): void {
  if (s.caller.staff || s.role === "owner") return;
  if (target !== "member") {
    throw new DomainError(
      "permission_denied",
      `circle moderators can ${toDo} regular members only; ask an owner`,
      { reason: "TARGET_OUTRANKS" },
    );
  }
}

/** How many owners the circle has (read under its row lock, so it cannot change meanwhile). */
export async function countOwners(trx: Executor, circleId: string): Promise<number> {
  const { owners } = await trx
    .selectFrom("circle_member")
    .select((eb) => eb.fn.countAll<string>().as("owners"))
    .where("circle_id", "=", circleId)
    .where("role", "=", "owner")
    .executeTakeFirstOrThrow();
  return Number(owners);
}

/** Refuses a change that would leave the circle without an owner. */
export async function requireAnotherOwner(
  trx: Transaction<CirclesDatabase>,
  circleId: string,
  message: string,
): Promise<void> {
  if ((await countOwners(trx, circleId)) <= 1) {
    throw new DomainError("failed_precondition", message, { reason: "LAST_OWNER" });
  }
}

/** A member's row, or `not_found`. */
export async function requireMembership(trx: Executor, circleId: string, userId: string) {
  const row = await trx
    .selectFrom("circle_member")
    .selectAll()
    .where("circle_id", "=", circleId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  if (row === undefined) {
    throw new DomainError("not_found", "that user is not a member of this circle", {
      reason: "MEMBER_NOT_FOUND",
    });
  }
  return row;
}
