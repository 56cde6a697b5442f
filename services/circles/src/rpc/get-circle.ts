import { callerOf, visibleCircle } from "../access.ts";
import type { CirclesDeps, Method } from "../deps.ts";
import { toCircle } from "../mapping.ts";

/** A circle the caller belongs to, any open circle, or — for platform staff — any circle. */
export function getCircle({ db }: CirclesDeps): Method<"getCircle"> {
  return async (req, ctx) => {
    const { circle } = await visibleCircle(db.kysely, callerOf(ctx), req.circleId);
    return { circle: toCircle(circle) };
  };
}
