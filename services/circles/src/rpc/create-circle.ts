import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { newEventId } from "@kindred/events";
import { callerOf } from "../access.ts";
import { audit } from "../audit.ts";
import { circleEvents, enqueueCircleEvent } from "../circle-events.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toCircle, visibilityFromProto } from "../mapping.ts";
import { addMember } from "../membership.ts";
import { circleDescription, circleName } from "../text.ts";

/**
 * Creates a circle with its creator as first member and owner: two changes, so the new circle
 * is at version 2 (`CircleCreated` carries 1, the owner's `MemberJoined` 2).
 */
export function createCircle(deps: CirclesDeps): Method<"createCircle"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const name = circleName(req.name);
    const description = circleDescription(req.description);
    const visibility = visibilityFromProto(req.visibility);
    const circle = await deps.db.transaction(
      async (trx) => {
        const at = deps.now();
        const id = newEventId();
        await trx
          .insertInto("circle")
          .values({
            id,
            name,
            description,
            visibility,
            member_count: 0,
            version: "1",
            created_by: caller.userId,
            created_at: at,
            updated_at: at,
            archived_at: null,
            archived_by: null,
          })
          .execute();
        await enqueueCircleEvent(
          deps.outbox,
          trx,
          circleEvents.circleCreated,
          {
            circleId: id,
            name,
            visibility: req.visibility,
            ownerId: caller.userId,
            createdAt: timestampFromDate(at),
            circleVersion: 1n,
          },
          { actor: caller, circleId: id },
        );
        const joined = await addMember(deps, trx, {
          circleId: id,
          userId: caller.userId,
          role: "owner",
          at,
        });
        await audit(
          trx,
          ctx,
          { caller, role: "owner" },
          { kind: "circle_created", circleId: id },
          at,
        );
        return joined.circle;
      },
      { idempotent: true },
    );
    return { circle: toCircle(circle) };
  };
}
