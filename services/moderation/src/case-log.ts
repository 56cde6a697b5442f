import { newEventId } from "@kindred/events";
import type { Executor } from "./access.ts";
import type { LogKindName } from "./db/schema.ts";

export interface LogInput {
  kind: LogKindName;
  caseId?: string | null;
  circleId?: string | null;
  /** The moderator who acted; null for automatic steps. */
  actorId: string | null;
  userId?: string | null;
  note: string;
}

/** Records one step in the moderation log, in the caller's transaction: who, when, why. */
export async function writeLog(db: Executor, entry: LogInput): Promise<void> {
  await db
    .insertInto("moderation_log")
    .values({
      id: newEventId(),
      kind: entry.kind,
      case_id: entry.caseId ?? null,
      circle_id: entry.circleId ?? null,
      actor_id: entry.actorId,
      user_id: entry.userId ?? null,
      note: entry.note,
    })
    .execute();
}
