import { DomainError } from "@kindred/errors";
import { callerOf } from "../access.ts";
import { writeLog } from "../case-log.ts";
import type { Method, ModerationDeps } from "../deps.ts";

const platformOnly = () =>
  new DomainError("permission_denied", "this call needs the moderator role", {
    reason: "NOT_A_MODERATOR",
  });

/** Stops a reporter's reports from opening cases (report abuse), for a while or until lifted. */
export function muteReporter({ db, now }: ModerationDeps): Method<"muteReporter"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    if (!caller.platform) throw platformOnly();
    const userId = req.userId.toLowerCase();
    if (userId === caller.userId) {
      throw new DomainError("invalid_argument", "you cannot mute yourself", {
        reason: "SELF_MUTE",
      });
    }
    const at = now();
    const until =
      req.durationSeconds === undefined
        ? null
        : new Date(at.getTime() + Number(req.durationSeconds) * 1000);
    await db.transaction(async (trx) => {
      await trx
        .insertInto("reporter_mute")
        .values({ user_id: userId, muted_until: until, muted_by: caller.userId, note: req.note })
        .onConflict((oc) =>
          oc.column("user_id").doUpdateSet({
            muted_until: until,
            muted_by: caller.userId,
            note: req.note,
            created_at: at,
          }),
        )
        .execute();
      await writeLog(trx, {
        kind: "reporter_muted",
        actorId: caller.userId,
        userId,
        note: until === null ? req.note : `until ${until.toISOString()}: ${req.note}`,
      });
    });
    return {};
  };
}

/** Lifts a reporter's mute; a user who is not muted gets `failed_precondition`. */
export function unmuteReporter({ db }: ModerationDeps): Method<"unmuteReporter"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    if (!caller.platform) throw platformOnly();
    const userId = req.userId.toLowerCase();
    await db.transaction(async (trx) => {
      const removed = await trx
        .deleteFrom("reporter_mute")
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (removed.numDeletedRows === 0n) {
        throw new DomainError("failed_precondition", "this user is not muted", {
          reason: "NOT_MUTED",
        });
      }
      await writeLog(trx, {
        kind: "reporter_unmuted",
        actorId: caller.userId,
        userId,
        note: req.note,
      });
    });
    return {};
  };
}
