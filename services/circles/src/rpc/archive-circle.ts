import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { callerOf, requireOwner, visibleCircle } from "../access.ts";
import { audit } from "../audit.ts";
import { circleEvents, enqueueCircleEvent } from "../circle-events.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toCircle } from "../mapping.ts";

/**
 * Archives a circle for good: read-only, gone from discovery; members keep reading it. Archiving
 * an archived circle changes nothing and answers the circle (a retried call succeeds).
 */
export function archiveCircle(deps: CirclesDeps): Method<"archiveCircle"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const circle = await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        requireOwner(s, "archive it");
        if (s.circle.archived_at !== null) return s.circle;
        const at = deps.now();
        const archived = await trx
          .updateTable("circle")
          .set((eb) => ({
            archived_at: at,
            archived_by: caller.userId,
            version: eb("version", "+", "1"),
            updated_at: at,
          }))
          .where("id", "=", req.circleId)
          .returningAll()
          .executeTakeFirstOrThrow();
        deps.cache.invalidateOnCommit(trx, archived.id);
        await enqueueCircleEvent(
          deps.outbox,
          trx,
          circleEvents.circleArchived,
          {
            circleId: archived.id,
            archivedBy: caller.userId,
            archivedAt: timestampFromDate(at),
            circleVersion: BigInt(archived.version),
          },
          { actorId: caller.userId, circleId: archived.id },
        );
        await audit(trx, ctx, s, { kind: "circle_archived", circleId: archived.id }, at);
        return archived;
      },
      { idempotent: true },
    );
    return { circle: toCircle(circle) };
  };
}
