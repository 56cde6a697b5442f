import { callerOf } from "../access.ts";
import type { Method, NotifierDeps } from "../deps.ts";
import { readPreferences } from "../preferences.ts";

/** The caller's preferences; every kind enabled and no quiet hours until they change them. */
export function getPreferences({ db }: NotifierDeps): Method<"getPreferences"> {
  return async (_req, ctx) => {
    const userId = callerOf(ctx);
    return { preferences: await readPreferences(db.kysely, userId) };
  };
}
