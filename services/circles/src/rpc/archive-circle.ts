import { callerOf, requireOwner, visibleCircle } from "../access.ts";
import { audit } from "../audit.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toCircle } from "../mapping.ts";
import { archive } from "../membership.ts";

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
        const archived = await archive(deps, trx, { actor: caller, circleId: s.circle.id, at });
        await audit(trx, ctx, s, { kind: "circle_archived", circleId: archived.id }, at);
        return archived;
      },
      { idempotent: true },
    );
    return { circle: toCircle(circle) };
  };
}
