import { setTimeout as sleep } from "node:timers/promises";
import { hasRole, type Principal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { type Kysely, type SqlBool, sql } from "kysely";
import type { CircleRoleName, ContentDatabase, RemovalReasonName } from "./db/schema.ts";

/**
 * Who may do what with posts and responses: the one rule set every PostService method uses.
 *
 * - **See** a post (GetPost, lists, ListResponses): an active member of its circle, with no
 *   block between the caller and its author in either direction; the post is neither removed
 *   nor expired, nor hidden for review by moderation unless the caller wrote it (ADR 15). A
 *   response also needs no block with its own author, and is hidden for review the same way.
 *   Anything else is `not_found`: the caller learns nothing about content it may not see.
 * - Content hidden for review takes no edits and no responses, not even from its author
 *   (`failed_precondition`, `UNDER_REVIEW`): what moderators review stays what was hidden, and
 *   no new event about it reaches the circle. Its author may still remove it.
 * - **Write** (CreatePost, RespondToPost, UpdatePost): whoever may see it (for CreatePost, an
 *   active member), in a circle that is not archived (`failed_precondition`). UpdatePost is for
 *   the author only (`permission_denied` for other members).
 * - **Remove** (DeletePost, DeleteResponse): its author (always, even after leaving the
 *   circle), an active owner or moderator of its circle, or a platform `moderator`/`admin`
 *   (token roles). Blocks do not shield content from moderators. Removal works in archived
 *   circles too. Members who may see it but not remove it get `permission_denied`.
 * - Platform roles grant removal only: a platform moderator reviews content through moderation
 *   (issue 6), not by reading circles they are not in.
 *
 * Circle checks (`requireMember`) say `not_found` for a circle content never heard of and
 * `permission_denied` for a non-member. A failed membership check waits up to
 * `membershipWaitMs` for the projection to catch up before answering (ADR 11).
 */
export class AccessRules {
  readonly #db: Kysely<ContentDatabase>;
  readonly #waitMs: number;
  readonly #pollMs: number;

  constructor(options: { db: Kysely<ContentDatabase>; membershipWaitMs: number; pollMs?: number }) {
    this.#db = options.db;
    this.#waitMs = options.membershipWaitMs;
    this.#pollMs = options.pollMs ?? 50;
  }

  /** The caller's place in a circle as the projection has it now; `undefined`: unknown circle. */
  async circleOf(circleId: string, userId: string): Promise<CircleAccess | undefined> {
    const row = await this.#db
      .selectFrom("circle_state as c")
      .leftJoin("circle_member as m", (join) =>
        join
          .onRef("m.circle_id", "=", "c.circle_id")
          .on("m.user_id", "=", userId)
          .on("m.left_at", "is", null),
      )
      .select(["c.archived_at", "m.role"])
      .where("c.circle_id", "=", circleId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return { role: row.role ?? undefined, archived: row.archived_at !== null };
  }

  /**
   * `circleOf`, polled every ~50 ms for up to `membershipWaitMs` while the caller is not an
   * active member (or, with `untilArchived`, until the circle turns out archived): a user who
   * just joined may reach content before circles' event does.
   */
  async awaitMembership(
    circleId: string,
    userId: string,
    options: { signal?: AbortSignal | undefined; untilArchived?: boolean } = {},
  ): Promise<CircleAccess | undefined> {
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      const access = await this.circleOf(circleId, userId);
      const settled =
        access?.role !== undefined || (options.untilArchived === true && access?.archived);
      const left = deadline - Date.now();
      if (settled || left <= 0 || options.signal?.aborted) return access;
      await sleep(Math.min(this.#pollMs, left), undefined, { signal: options.signal }).catch(
        () => {},
      );
    }
  }

  /** An active member's access to a circle, or the circle-level refusal (see the class). */
  async requireMember(
    circleId: string,
    userId: string,
    options: { write: boolean; signal?: AbortSignal | undefined },
  ): Promise<MemberAccess> {
    const access = await this.awaitMembership(circleId, userId, {
      signal: options.signal,
      untilArchived: options.write,
    });
    if (access === undefined) throw new DomainError("not_found", "circle not found");
    if (options.write && access.archived) throw archived();
    if (access.role === undefined) {
      throw new DomainError("permission_denied", "you are not a member of this circle", {
        reason: "NOT_A_MEMBER",
      });
    }
    return { role: access.role, archived: access.archived };
  }

  /**
   * The caller's access to a live post it may see (an active member of its circle, no block
   * with `authors` either way), else `not_found` as `what`; with `write`, archived circles are
   * refused.
   */
  async requireVisible(
    target: { circleId: string; authors: readonly string[]; what: string },
    userId: string,
    options: { write: boolean; signal?: AbortSignal | undefined },
  ): Promise<MemberAccess> {
    const access = await this.awaitMembership(target.circleId, userId, { signal: options.signal });
    if (access?.role === undefined || (await this.blockedBetween(userId, target.authors))) {
      throw new DomainError("not_found", `${target.what} not found`);
    }
    if (options.write && access.archived) throw archived();
    return { role: access.role, archived: access.archived };
  }

  /**
   * Why the caller may remove content by `authorId` in `circleId` (the reason its event
   * carries), or the refusal: `not_found` for content it may not see, `permission_denied` for
   * content it sees but may not remove.
   */
  async requireRemoval(
    principal: Principal,
    target: { circleId: string; authorId: string; authors: readonly string[]; what: string },
    signal?: AbortSignal,
  ): Promise<RemovalReasonName> {
    if (principal.userId === target.authorId) return "author";
    let access = await this.circleOf(target.circleId, principal.userId);
    if (isCircleModerator(access)) return "circle_moderator";
    if (hasRole(principal, "moderator") || hasRole(principal, "admin")) return "moderation";
    if (access?.role === undefined) {
      access = await this.awaitMembership(target.circleId, principal.userId, { signal });
      if (isCircleModerator(access)) return "circle_moderator";
    }
    if (
      access?.role === undefined ||
      (await this.blockedBetween(principal.userId, target.authors))
    ) {
      throw new DomainError("not_found", `${target.what} not found`);
    }
    throw new DomainError(
      "permission_denied",
      `only its author, the circle's moderators and owners, or a platform moderator may delete this ${target.what}`,
    );
  }

  /** Whether `userId` blocked any of `others`, or any of them blocked `userId`. */
  async blockedBetween(userId: string, others: readonly string[]): Promise<boolean> {
    const candidates = others.filter((other) => other !== userId);
    if (candidates.length === 0) return false;
    const row = await this.#db
      .selectFrom("user_block")
      .select("blocker_id")
      .where("blocked", "=", true)
      .where((eb) =>
        eb.or([
          eb.and([eb("blocker_id", "=", userId), eb("blocked_id", "in", candidates)]),
          eb.and([eb("blocker_id", "in", candidates), eb("blocked_id", "=", userId)]),
        ]),
      )
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}

/** A caller's place in a known circle; `role` undefined for a non-member. */
export interface CircleAccess {
  role: CircleRoleName | undefined;
  archived: boolean;
}

export interface MemberAccess {
  role: CircleRoleName;
  archived: boolean;
}

const isCircleModerator = (access: CircleAccess | undefined) =>
  access?.role === "owner" || access?.role === "moderator";

const archived = () =>
  new DomainError("failed_precondition", "this circle is archived and read-only", {
    reason: "CIRCLE_ARCHIVED",
  });

/**
 * Statement filter: `userId` is an active member of `circleId`, a circle content knows and that
 * is not archived — what `requireMember(…, { write: true })` accepts, for a write that checks it
 * in its own statement (CreatePost). When it fails, `requireMember` tells why, after its wait.
 * The query is the function `may_write_in` (migration `20261126T1100_may_write_in`), whose plan
 * PostgreSQL keeps per connection.
 */
export const mayWriteIn = (circleId: string, userId: string) =>
  sql<SqlBool>`may_write_in(${circleId}, ${userId})`;

/**
 * List filter: no block between `userId` and the user in column `other`, either way. Two
 * `not exists` so each side uses an index.
 */
export const noBlockBetween = (userId: string, other: string) => sql<SqlBool>`(
  not exists (select 1 from user_block b
    where b.blocker_id = ${userId} and b.blocked_id = ${sql.ref(other)} and b.blocked)
  and not exists (select 1 from user_block b
    where b.blocker_id = ${sql.ref(other)} and b.blocked_id = ${userId} and b.blocked))`;

/** List and point-read filter: the post (table alias `post`) is neither removed nor expired. */
export const livePost = sql<SqlBool>`(post.deleted_at is null
  and (post.expires_at is null or post.expires_at > now()))`;

/**
 * Read filter: the post (table alias `post`) is not hidden for review, or `viewerId` wrote it:
 * content hidden by moderation's pipeline is shown to its author only (ADR 15).
 */
export const postShownTo = (viewerId: string) =>
  sql<SqlBool>`(post.hidden_by_case is null or post.author_id = ${viewerId})`;

/** `postShownTo` for a response (table alias `response`). */
export const responseShownTo = (viewerId: string) =>
  sql<SqlBool>`(response.hidden_by_case is null or response.author_id = ${viewerId})`;

/** The refusal of an edit or a response to content hidden for review (ADR 15). */
export const underReview = (what: string) =>
  new DomainError(
    "failed_precondition",
    `this ${what} is being reviewed by moderators and cannot change until they decide`,
    { reason: "UNDER_REVIEW" },
  );
