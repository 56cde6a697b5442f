/**
 * Who makes a change: a signed-in user (a `Caller` is one), or circles itself reacting to another
 * service's event — `system:<component>`, with that event's correlation id, so the events and
 * audit rows it causes lead back to the user action that started it.
 */
export type Actor = { userId: string } | { system: `system:${string}`; correlationId: string };

/** The user who made a change; `null` when circles made it on its own. */
export const userOf = (actor: Actor): string | null => ("userId" in actor ? actor.userId : null);

/** The `Kindred-Actor-Id` (and correlation id) of the events a change writes. */
export function eventActor(actor: Actor): { actorId: string; correlationId?: string } {
  return "userId" in actor
    ? { actorId: actor.userId }
    : { actorId: actor.system, correlationId: actor.correlationId };
}
