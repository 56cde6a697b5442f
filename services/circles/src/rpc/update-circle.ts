import { DomainError } from "@kindred/errors";
import { callerOf, requireActive, requireOwner, visibleCircle } from "../access.ts";
import { audit } from "../audit.ts";
import { circleEvents, enqueueCircleEvent } from "../circle-events.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toCircle, visibilityFromProto, visibilityToProto } from "../mapping.ts";
import { circleDescription, circleName } from "../text.ts";

/**
 * Changes settings with optimistic concurrency: `expected_version` must be the current version
 * (which every membership change moves too), else `aborted` and nothing changes. A request that
 * changes nothing returns the circle as it is, without a new version or event.
 */
export function updateCircle(deps: CirclesDeps): Method<"updateCircle"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const name = req.name === undefined ? undefined : circleName(req.name);
    const description =
      req.description === undefined ? undefined : circleDescription(req.description);
    const visibility =
      req.visibility === undefined ? undefined : visibilityFromProto(req.visibility);
    const circle = await deps.db.transaction(
      async (trx) => {
        const s = await visibleCircle(trx, caller, req.circleId, { lock: true });
        requireOwner(s, "change its settings");
        requireActive(s, "change its settings");
        if (BigInt(s.circle.version) !== req.expectedVersion) {
          throw new DomainError(
            "aborted",
            `the circle changed since it was read (now version ${s.circle.version}); reload and retry`,
            { reason: "VERSION_MISMATCH" },
          );
        }
        const changes = {
          ...(name === undefined || name === s.circle.name ? {} : { name }),
          ...(description === undefined || description === s.circle.description
            ? {}
            : { description }),
          ...(visibility === undefined || visibility === s.circle.visibility ? {} : { visibility }),
        };
        if (Object.keys(changes).length === 0) return s.circle;
        const at = deps.now();
        const updated = await trx
          .updateTable("circle")
          .set((eb) => ({ ...changes, version: eb("version", "+", "1"), updated_at: at }))
          .where("id", "=", req.circleId)
          .returningAll()
          .executeTakeFirstOrThrow();
        deps.cache.invalidateOnCommit(trx, updated.id);
        await enqueueCircleEvent(
          deps.outbox,
          trx,
          circleEvents.circleUpdated,
          {
            circleId: updated.id,
            name: updated.name,
            description: updated.description,
            visibility: visibilityToProto(updated.visibility),
            updatedBy: caller.userId,
            circleVersion: BigInt(updated.version),
          },
          { actor: caller, circleId: updated.id },
        );
        await audit(
          trx,
          ctx,
          s,
          {
            kind: "circle_updated",
            circleId: updated.id,
            details: { fields: Object.keys(changes).join(",") },
          },
          at,
        );
        return updated;
      },
      { idempotent: true },
    );
    return { circle: toCircle(circle) };
  };
}
