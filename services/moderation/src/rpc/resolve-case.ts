import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DomainError } from "@kindred/errors";
import { moderationEvents } from "@kindred/event-catalog";
import { newEventId } from "@kindred/events";
import { callerOf, holdsClaim, visibleCase } from "../access.ts";
import { writeLog } from "../case-log.ts";
import { caseTarget } from "../cases.ts";
import type { ActionName } from "../db/schema.ts";
import { restrictAccount, setEvidenceRelease } from "../decisions.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toDecision } from "../mapping.ts";
import { actionFromProto, actionToEvent } from "../names.ts";
import { isContent } from "../targets.ts";
import { caseWithDetails } from "./get-case.ts";

/** What circle moderators may decide; account actions need platform moderators (ADR 16). */
const circleActions: readonly ActionName[] = ["dismiss", "remove_content", "warn"];

/**
 * Decides a case the caller holds a live claim on. The decision, its events (content, account)
 * and the case's log entry commit together; the evidence hold then lasts through the appeal
 * window (a dismissal releases it at once).
 */
export function resolveCase({ db, outbox, settings, now }: ModerationDeps): Method<"resolveCase"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const action = actionFromProto(req.action);
    return db.transaction(async (trx) => {
      const row = await visibleCase(trx, caller, req.caseId.toLowerCase(), { lock: true });
      const at = now();
      if (row.status === "resolved") {
        throw new DomainError("failed_precondition", "the case is already resolved", {
          reason: "CASE_RESOLVED",
        });
      }
      if (!holdsClaim(row, caller, at)) {
        // Expired: still recorded as theirs, or already ended by the sweep.
        const expired = row.assignee_id === caller.userId || row.expired_claim_by === caller.userId;
        throw new DomainError(
          "failed_precondition",
          expired
            ? "your claim on the case expired; claim it again before resolving it"
            : "claim the case before resolving it",
          { reason: expired ? "CLAIM_EXPIRED" : "CLAIM_REQUIRED" },
        );
      }
      if (row.subject_user_id === caller.userId) {
        throw new DomainError("permission_denied", "you cannot decide a case about yourself", {
          reason: "OWN_CASE",
        });
      }
      if (action === "remove_content" && !isContent(row.target_kind)) {
        throw new DomainError(
          "invalid_argument",
          "ACTION_REMOVE_CONTENT applies to posts and responses only",
          { reason: "ACTION_NOT_APPLICABLE" },
        );
      }
      if (row.target_kind === "circle" && action !== "dismiss") {
        throw new DomainError(
          "invalid_argument",
          "a circle case can only be dismissed; act on its posts or members instead",
          { reason: "ACTION_NOT_APPLICABLE" },
        );
      }
      if (!caller.platform && !circleActions.includes(action)) {
        throw new DomainError(
          "permission_denied",
          "circle moderators may dismiss, remove content or warn; escalate the case for account actions",
          { reason: "PLATFORM_ACTION" },
        );
      }
      const expiresAt =
        req.durationSeconds === undefined
          ? null
          : new Date(at.getTime() + Number(req.durationSeconds) * 1000);
      const appealableUntil =
        action === "dismiss" ? null : new Date(at.getTime() + settings.appealWindowSeconds * 1000);
      const decision = await trx
        .insertInto("decision")
        .values({
          id: newEventId(),
          case_id: row.id,
          action,
          affected_user_id: row.subject_user_id,
          target_kind: row.target_kind,
          target_id: row.target_id,
          note: req.note,
          moderator_id: caller.userId,
          decided_at: at,
          expires_at: expiresAt,
          appealable_until: appealableUntil,
          reversed_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const resolved = await trx
        .updateTable("mod_case")
        .set({
          status: "resolved",
          resolved_at: at,
          updated_at: at,
          assignee_id: null,
          claim_expires_at: null,
        })
        .where("id", "=", row.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      // Reporters may report the target again once its case is decided.
      await trx.updateTable("report").set({ open: false }).where("case_id", "=", row.id).execute();
      await writeLog(trx, {
        kind: "resolved",
        caseId: row.id,
        circleId: row.circle_id,
        actorId: caller.userId,
        userId: row.subject_user_id,
        note: `${action}: ${req.note}`,
      });
      await outbox.enqueue(
        trx,
        moderationEvents.decisionMade,
        {
          decisionId: decision.id,
          caseId: row.id,
          action: actionToEvent(action),
          target: caseTarget(row),
          affectedUserId: row.subject_user_id ?? "",
          note: req.note,
          decidedAt: timestampFromDate(decision.decided_at),
          ...(expiresAt === null ? {} : { expiresAt: timestampFromDate(expiresAt) }),
          ...(appealableUntil === null
            ? {}
            : { appealableUntil: timestampFromDate(appealableUntil) }),
        },
        { actorId: caller.userId, aggregateId: row.id, occurredAt: at },
      );
      await restrictAccount(trx, outbox, {
        action,
        userId: row.subject_user_id,
        caseId: row.id,
        until: expiresAt,
        at,
        actorId: caller.userId,
      });
      await setEvidenceRelease(trx, outbox, row.id, appealableUntil ?? at, at);
      return {
        case: await caseWithDetails(trx, resolved, at),
        decision: toDecision(decision),
      };
    });
  };
}
