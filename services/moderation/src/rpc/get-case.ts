import { callerOf, visibleCase } from "../access.ts";
import type { Method, ModerationDeps } from "../deps.ts";
import { toCase } from "../mapping.ts";

/** A case the caller may see, with its target snapshot, reports, rule matches and history. */
export function getCase({ db, now }: ModerationDeps): Method<"getCase"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const row = await visibleCase(db.kysely, caller, req.caseId.toLowerCase());
    return { case: await caseWithDetails(db.kysely, row, now()) };
  };
}

export async function caseWithDetails(
  db: Parameters<typeof visibleCase>[0],
  row: Awaited<ReturnType<typeof visibleCase>>,
  at: Date,
) {
  const [reports, matches, history, decision] = await Promise.all([
    db
      .selectFrom("report")
      .selectAll()
      .where("case_id", "=", row.id)
      .orderBy("created_at")
      .orderBy("id")
      .execute(),
    db
      .selectFrom("rule_match")
      .selectAll()
      .where("target_kind", "=", row.target_kind)
      .where("target_id", "=", row.target_id)
      .orderBy("matched_at")
      .orderBy("id")
      .execute(),
    db
      .selectFrom("moderation_log")
      .selectAll()
      .where("case_id", "=", row.id)
      .orderBy("occurred_at")
      .orderBy("id")
      .execute(),
    db.selectFrom("decision").selectAll().where("case_id", "=", row.id).executeTakeFirst(),
  ]);
  return toCase(row, at, { reports, matches, history, decision });
}
