import { RemovalReason } from "@kindred/proto/content/events/v1";
import { type Selectable, sql, type Transaction } from "kysely";
import type { ContentDatabase } from "./db/schema.ts";
import {
  announcePostRestored,
  announceResponseRestored,
  enqueuePostRemoved,
  enqueueResponseRemoved,
  type ParentPost,
  removePost,
  removeResponse,
  type VisibilityDeps,
} from "./removal.ts";
import type { PostRow, ResponseRow } from "./rpc/post-mapping.ts";

type Trx = Transaction<ContentDatabase>;
export type CaseRow = Selectable<ContentDatabase["moderation_case"]>;

/** The post or response a moderation case is about. */
export interface CaseContent {
  kind: "post" | "response";
  id: string;
}

/** What one of moderation's events says about its case. */
export type CaseFact =
  | { kind: "opened" }
  | { kind: "hidden"; at: Date }
  | {
      kind: "decided";
      decisionId: string;
      /** `DecisionAction` by lower-case name. */
      decision: string;
      /** The moderator, when the event's actor is a user. */
      by: string | null;
      at: Date;
    }
  | { kind: "reversed"; decisionId: string }
  | { kind: "released"; at: Date };

/** The event being applied: its case and actor name the events it causes. */
export interface Cause {
  caseId: string;
  actorId: string;
}

/**
 * Applies one of moderation's events about a post or response (ADR 15), in the consumer's inbox
 * transaction. Moderation's events about one case reach content through one consumer per
 * subject, so they can arrive in any order, and several cases can concern the same content. So
 * each event only records its fact in `moderation_case`, and what the content should be follows
 * from every fact known about every case on it:
 *
 * - **held** by each case that is not released (`evidence_hold`, under the purge's locking
 *   contract: the content row is locked first);
 * - **removed** while some case decided `REMOVE_CONTENT` and that decision is not reversed;
 *   content removed any other way (its author, a circle moderator, account deletion) stays
 *   removed whatever moderation does, and a removal is never undone by anything but the
 *   reversal;
 * - **hidden** (from everyone but its author) while some case hid it and is not decided yet.
 *
 * The row moves to that state, bumping the post's version and writing
 * `content.<post|response>.removed.v1` (`MODERATION`, or `HELD_FOR_REVIEW` when hidden) or
 * `….restored.v1` exactly when it leaves or re-enters other members' reads; its circle's feed
 * pages are invalidated after commit. Applying an event again, or events in another order,
 * reaches the same state and writes nothing more. Content that no longer exists (purged) takes
 * nothing: nothing is recorded, held or written.
 */
export async function applyCaseEvent(
  trx: Trx,
  deps: VisibilityDeps,
  target: CaseContent,
  fact: CaseFact,
  cause: Cause,
): Promise<void> {
  // The purge's contract (purge.ts): lock the row, then hold it. The lock also puts the events
  // about one post or response (of any case, from any consumer) one after another, and orders
  // them with the RPCs that write it (a removal, an edit, a response: RespondToPost locks the
  // post `for share`), which either commit first or see the change.
  const row = await trx
    .selectFrom(target.kind)
    .selectAll()
    .where("id", "=", target.id)
    .forNoKeyUpdate()
    .executeTakeFirst();
  if (fact.kind === "released") {
    // After the lock: a hold of this case placed concurrently has committed, and is seen.
    await trx
      .deleteFrom("evidence_hold")
      .where("case_id", "=", cause.caseId)
      .where("content_kind", "=", target.kind)
      .where("content_id", "=", target.id)
      .execute();
  }
  if (row === undefined) return;
  await recordFact(trx, target, cause.caseId, fact);
  const cases = await trx
    .selectFrom("moderation_case")
    .selectAll()
    .where("content_kind", "=", target.kind)
    .where("content_id", "=", target.id)
    .execute();
  const own = cases.find((c) => c.case_id === cause.caseId);
  if (own?.released_at === null) {
    await trx
      .insertInto("evidence_hold")
      .values({ content_kind: target.kind, content_id: target.id, case_id: cause.caseId })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  const state = moderationStateOf(cases);
  if (target.kind === "post") {
    await settlePost(trx, deps, row as PostRow, state, cause);
  } else {
    await settleResponse(trx, deps, row as ResponseRow, state, cause);
  }
}

/**
 * Records `fact` of case `caseId`. A fact already known keeps its first value, except the
 * decision: should a case ever get a second one, the later stands.
 */
async function recordFact(trx: Trx, target: CaseContent, caseId: string, fact: CaseFact) {
  const values = {
    case_id: caseId,
    content_kind: target.kind,
    content_id: target.id,
    ...(fact.kind === "hidden" ? { hidden_at: fact.at } : {}),
    ...(fact.kind === "decided"
      ? {
          decision_id: fact.decisionId,
          decision: fact.decision,
          decided_by: fact.by,
          decided_at: fact.at,
        }
      : {}),
    ...(fact.kind === "reversed" ? { reversed_decision_id: fact.decisionId } : {}),
    ...(fact.kind === "released" ? { released_at: fact.at } : {}),
  };
  await trx
    .insertInto("moderation_case")
    .values(values)
    .onConflict((oc) =>
      oc.column("case_id").doUpdateSet({
        hidden_at: sql`coalesce(moderation_case.hidden_at, excluded.hidden_at)`,
        decision_id: sql`case when ${laterDecision} then excluded.decision_id else moderation_case.decision_id end`,
        decision: sql`case when ${laterDecision} then excluded.decision else moderation_case.decision end`,
        decided_by: sql`case when ${laterDecision} then excluded.decided_by else moderation_case.decided_by end`,
        decided_at: sql`case when ${laterDecision} then excluded.decided_at else moderation_case.decided_at end`,
        reversed_decision_id: sql`coalesce(excluded.reversed_decision_id, moderation_case.reversed_decision_id)`,
        released_at: sql`coalesce(moderation_case.released_at, excluded.released_at)`,
      }),
    )
    .execute();
}

const laterDecision = sql`(excluded.decided_at is not null and (moderation_case.decided_at is null
  or excluded.decided_at > moderation_case.decided_at))`;

/** What moderation's cases ask of one post or response. */
export interface ModerationState {
  /** The case whose `REMOVE_CONTENT` stands (the earliest decided), if any. */
  removal: CaseRow | undefined;
  /** The case that hides it pending review (the earliest hidden undecided one), if any. */
  hiding: CaseRow | undefined;
}

/** Folds every known fact of every case on one post or response into what it should be. */
export function moderationStateOf(cases: readonly CaseRow[]): ModerationState {
  const by = (at: (c: CaseRow) => Date | null) => (a: CaseRow, b: CaseRow) =>
    (at(a)?.getTime() ?? 0) - (at(b)?.getTime() ?? 0) || a.case_id.localeCompare(b.case_id);
  const removal = cases
    .filter((c) => c.decision === "remove_content" && c.reversed_decision_id !== c.decision_id)
    .sort(by((c) => c.decided_at))[0];
  // A reversal that overtook its decision still says the case was decided.
  const hiding = cases
    .filter(
      (c) => c.hidden_at !== null && c.decision_id === null && c.reversed_decision_id === null,
    )
    .sort(by((c) => c.hidden_at))[0];
  return { removal, hiding };
}

/** Moves a locked post to `state` (see `applyCaseEvent`). */
async function settlePost(
  trx: Trx,
  deps: VisibilityDeps,
  post: PostRow,
  { removal, hiding }: ModerationState,
  cause: Cause,
) {
  if (post.deleted_at !== null && post.removed_by_case === null) return; // removed otherwise: final
  const where = trx.updateTable("post").where("id", "=", post.id);
  if (removal !== undefined) {
    if (post.deleted_at === null) {
      await removePost(trx, deps, post.id, {
        removedBy: removal.decided_by,
        reason: "moderation",
        actorId: cause.actorId,
        caseId: removal.case_id,
      });
    } else if (post.removed_by_case !== removal.case_id) {
      // The decision that removed it was reversed, and another one still removes it.
      await where
        .set({ removed_by_case: removal.case_id, removed_by: removal.decided_by })
        .execute();
    }
    return;
  }
  const hiddenBy = hiding?.case_id ?? null;
  if (post.deleted_at !== null) {
    // Removed by a decision that an appeal reversed: back, unless another case still hides it.
    const restored = await where
      .set({
        deleted_at: null,
        removed_by: null,
        removal_reason: null,
        removed_by_case: null,
        hidden_by_case: hiddenBy,
        hidden_at: hiddenBy === null ? null : sql<Date>`now()`,
        version: sql<string>`version + 1`,
      })
      .returningAll()
      .returning(sql<Date>`now()`.as("changed_at"))
      .executeTakeFirstOrThrow();
    if (hiddenBy === null) {
      await announcePostRestored(trx, deps, restored, {
        ...cause,
        restoredAt: restored.changed_at,
      });
    } else {
      deps.feedCache.afterCommit(trx, { circles: [post.circle_id] }); // its author sees it again
    }
    return;
  }
  if (post.hidden_by_case === hiddenBy) return;
  if (post.hidden_by_case !== null && hiddenBy !== null) {
    // Still hidden, now by a case that is not decided yet: no reader sees a change.
    await where.set({ hidden_by_case: hiddenBy }).execute();
    return;
  }
  const changed = await where
    .set({
      hidden_by_case: hiddenBy,
      hidden_at: hiddenBy === null ? null : sql<Date>`now()`,
      version: sql<string>`version + 1`,
    })
    .returningAll()
    .returning(sql<Date>`now()`.as("changed_at"))
    .executeTakeFirstOrThrow();
  if (hiddenBy === null) {
    await announcePostRestored(trx, deps, changed, { ...cause, restoredAt: changed.changed_at });
    return;
  }
  await enqueuePostRemoved(trx, deps.outbox, changed, {
    removedBy: null,
    reason: RemovalReason.HELD_FOR_REVIEW,
    actorId: cause.actorId,
    removedAt: changed.changed_at,
  });
  deps.feedCache.afterCommit(trx, { circles: [post.circle_id] });
}

/** `settlePost` for a response: the same states, no version of its own. */
async function settleResponse(
  trx: Trx,
  deps: VisibilityDeps,
  response: ResponseRow,
  { removal, hiding }: ModerationState,
  cause: Cause,
) {
  if (response.deleted_at !== null && response.removed_by_case === null) return;
  const post: ParentPost = await trx
    .selectFrom("post")
    .select(["id", "circle_id"])
    .where("id", "=", response.post_id)
    .executeTakeFirstOrThrow();
  const where = trx.updateTable("response").where("id", "=", response.id);
  if (removal !== undefined) {
    if (response.deleted_at === null) {
      await removeResponse(trx, deps, response.id, post, {
        removedBy: removal.decided_by,
        reason: "moderation",
        actorId: cause.actorId,
        caseId: removal.case_id,
      });
    } else if (response.removed_by_case !== removal.case_id) {
      await where
        .set({ removed_by_case: removal.case_id, removed_by: removal.decided_by })
        .execute();
    }
    return;
  }
  const hiddenBy = hiding?.case_id ?? null;
  if (response.deleted_at !== null) {
    const { changed_at } = await where
      .set({
        deleted_at: null,
        removed_by: null,
        removal_reason: null,
        removed_by_case: null,
        hidden_by_case: hiddenBy,
        hidden_at: hiddenBy === null ? null : sql<Date>`now()`,
      })
      .returning(sql<Date>`now()`.as("changed_at"))
      .executeTakeFirstOrThrow();
    if (hiddenBy === null) {
      await announceResponseRestored(trx, deps, response, post, {
        ...cause,
        restoredAt: changed_at,
      });
    } else {
      deps.feedCache.afterCommit(trx, { circles: [post.circle_id] });
    }
    return;
  }
  if (response.hidden_by_case === hiddenBy) return;
  if (response.hidden_by_case !== null && hiddenBy !== null) {
    await where.set({ hidden_by_case: hiddenBy }).execute();
    return;
  }
  const { changed_at } = await where
    .set({ hidden_by_case: hiddenBy, hidden_at: hiddenBy === null ? null : sql<Date>`now()` })
    .returning(sql<Date>`now()`.as("changed_at"))
    .executeTakeFirstOrThrow();
  if (hiddenBy === null) {
    await announceResponseRestored(trx, deps, response, post, {
      ...cause,
      restoredAt: changed_at,
    });
    return;
  }
  await enqueueResponseRemoved(trx, deps.outbox, response, post, {
    removedBy: null,
    reason: RemovalReason.HELD_FOR_REVIEW,
    actorId: cause.actorId,
    removedAt: changed_at,
  });
  deps.feedCache.afterCommit(trx, { circles: [post.circle_id] });
}
