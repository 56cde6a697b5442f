import { callerOf, canSee, circleNotFound, standingIn } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { roleToProto, toCircle } from "../mapping.ts";

/**
 * A circle the caller belongs to, any open circle, or — for platform staff — any circle, with
 * the caller's role in it (`my_role`, unset for a non-member: realtime asks this to allow a
 * subscription, ADR 18). The circle and the caller's role may come from the cache; the rule is
 * applied on every read.
 */
export function getCircle({ db, cache }: CirclesDeps): Method<"getCircle"> {
  return async (req, ctx) => {
    const caller = callerOf(ctx);
    const s = await cache.standing(caller, req.circleId, async () => {
      const found = await standingIn(db.kysely, caller, req.circleId);
      if (found === undefined) throw circleNotFound();
      return found;
    });
    if (!canSee(s)) throw circleNotFound();
    return {
      circle: toCircle(s.circle),
      myRole: s.role === undefined ? undefined : roleToProto(s.role),
    };
  };
}
