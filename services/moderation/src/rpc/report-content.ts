import { DomainError } from "@kindred/errors";
import { newEventId } from "@kindred/events";
import { abortableDelay } from "@kindred/resilience";
import { sql } from "kysely";
import { callerOf } from "../access.ts";
import { writeLog } from "../case-log.ts";
import { openOrJoinCase, raiseCase } from "../cases.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toReport } from "../mapping.ts";
import {
  criticalPriority,
  highPriority,
  normalPriority,
  type ReasonName,
  reasonFromProto,
  targetKindFromProto,
} from "../names.ts";
import { isContent, resolveTarget } from "../targets.ts";

/** Reports of self-harm put a person in distress first; threats of violence come next. */
function priorityOf(reason: ReasonName): number {
  if (reason === "self_harm") return criticalPriority;
  if (reason === "violence") return highPriority;
  return normalPriority;
}

const targetNames = { post: "post", response: "response", user: "user", circle: "circle" };

/**
 * Any signed-in user reports a post, response, user or circle. One open report per reporter and
 * target; `REPORTS_PER_HOUR` per reporter. A muted reporter's report is kept but opens nothing,
 * and they are not told (so report abuse gains nothing). Reports from enough distinct users
 * move the case to platform moderators.
 */
export function reportContent({
  db,
  outbox,
  settings,
  now,
}: ModerationDeps): Method<"reportContent"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const target = req.target;
    if (target === undefined) throw new TypeError("unvalidated request");
    const kind = targetKindFromProto(target.kind);
    const targetId = target.id.toLowerCase();
    const reason = reasonFromProto(req.reason);
    if (kind === "user" && targetId === caller.userId) {
      throw new DomainError("invalid_argument", "you cannot report yourself", {
        reason: "SELF_REPORT",
      });
    }
    // A post reported right after it appeared may not have reached moderation yet: wait for
    // its event a little (bounded) before saying there is no such thing.
    const deadline = Date.now() + settings.reportTargetWaitMs;
    while (
      (await resolveTarget(db.kysely, kind, targetId)) === undefined &&
      Date.now() < deadline
    ) {
      await abortableDelay(50, ctx.signal);
    }
    return db.transaction(async (trx) => {
      const at = now();
      const info = await resolveTarget(trx, kind, targetId);
      if (info === undefined) {
        throw new DomainError("not_found", `no ${targetNames[kind]} with this id`, {
          reason: "TARGET_NOT_FOUND",
        });
      }
      if (isContent(kind) && info.userId === caller.userId) {
        throw new DomainError("invalid_argument", `you cannot report your own ${kind}`, {
          reason: "SELF_REPORT",
        });
      }
      // Serializes one reporter's reports, so the hourly count and the one-open-report rule hold.
      await sql`select pg_advisory_xact_lock(hashtextextended(${`report:${caller.userId}`}, 0))`.execute(
        trx,
      );
      const { count } = await trx
        .selectFrom("report")
        .select((eb) => eb.fn.countAll<string>().as("count"))
        .where("reporter_id", "=", caller.userId)
        .where("created_at", ">", new Date(at.getTime() - 3_600_000))
        .executeTakeFirstOrThrow();
      if (Number(count) >= settings.reportsPerHour) {
        throw new DomainError(
          "resource_exhausted",
          `you can file at most ${settings.reportsPerHour} reports an hour; try again later`,
          { reason: "REPORT_RATE_LIMITED" },
        );
      }
      const duplicate = await trx
        .selectFrom("report")
        .select("id")
        .where("reporter_id", "=", caller.userId)
        .where("target_kind", "=", kind)
        .where("target_id", "=", targetId)
        .where("open", "=", true)
        .executeTakeFirst();
      if (duplicate !== undefined) {
        throw new DomainError(
          "already_exists",
          "you already reported this and moderators have not decided yet",
          { reason: "REPORT_EXISTS" },
        );
      }
      const mute = await trx
        .selectFrom("reporter_mute")
        .select("muted_until")
        .where("user_id", "=", caller.userId)
        .executeTakeFirst();
      const muted =
        mute !== undefined &&
        (mute.muted_until === null || mute.muted_until.getTime() > at.getTime());
      let caseId: string | null = null;
      if (!muted) {
        const { row } = await openOrJoinCase(
          trx,
          outbox,
          {
            target: info,
            priority: priorityOf(reason),
            reason,
            platform: false,
            note: `reported for ${reason.replace("_", " ")}`,
          },
          at,
        );
        caseId = row.id;
        const updated = await trx
          .updateTable("mod_case")
          .set((eb) => ({ report_count: eb("report_count", "+", 1), updated_at: at }))
          .where("id", "=", row.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        await writeLog(trx, {
          kind: "report_added",
          caseId: row.id,
          circleId: row.circle_id,
          actorId: null,
          userId: row.subject_user_id,
          note: `report: ${reason.replace("_", " ")}`,
        });
        await escalatePastThreshold(trx, updated);
      }
      const report = await trx
        .insertInto("report")
        .values({
          id: newEventId(),
          case_id: caseId,
          reporter_id: caller.userId,
          target_kind: kind,
          target_id: targetId,
          reason,
          details: req.details,
          open: true,
          created_at: at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      // A muted reporter sees an ordinary answer; only moderators know the report opened nothing.
      return { report: { ...toReport(report), caseId: "" } };
    });
  };

  /** Reports from `REPORT_ESCALATION_THRESHOLD` distinct users escalate the case (once). */
  async function escalatePastThreshold(
    trx: Parameters<Parameters<typeof db.transaction>[0]>[0],
    row: Awaited<ReturnType<typeof openOrJoinCase>>["row"],
  ) {
    if (row.scope === "platform" && row.priority >= highPriority) return;
    const { reporters } = await trx
      .selectFrom("report")
      .select((eb) => eb.fn.count<string>("reporter_id").distinct().as("reporters"))
      .where("case_id", "=", row.id)
      .executeTakeFirstOrThrow();
    // The report being filed is not inserted yet: it is the `+ 1`.
    if (Number(reporters) + 1 < settings.reportEscalationThreshold) return;
    const at = now();
    await trx
      .insertInto("rule_match")
      .values({
        target_kind: row.target_kind,
        target_id: row.target_id,
        rule_id: "report-threshold",
        source: "report_threshold",
        severity: 3,
        outcome: "flag",
        reason: row.reason,
        detail: `${Number(reporters) + 1} users reported it`,
        matched_at: at,
      })
      .execute();
    await raiseCase(trx, outbox, row, {
      priority: highPriority,
      reason: row.reason,
      platform: true,
      automatic: true,
      actorId: null,
      note: `${Number(reporters) + 1} users reported it (threshold ${settings.reportEscalationThreshold})`,
      now: at,
    });
  }
}
