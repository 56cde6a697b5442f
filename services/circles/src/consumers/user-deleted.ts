import { identityEvents, identityStream } from "@kindred/event-catalog";
import { type ConsumerSpec, PermanentFailure } from "@kindred/events";
import type { Transaction } from "kysely";
import { isUuid } from "../access.ts";
import type { CirclesDatabase } from "../db/schema.ts";
import type { CirclesDeps } from "../deps.ts";
import { revokeInvitesOf, withdraw } from "../withdrawal.ts";

type UserDeleted = (typeof identityEvents.userDeleted)["schema"];

/**
 * A deleted account leaves every circle (`identity.user.deleted.v1`): one `MemberRemoved` per
 * circle, a sole owner's circle handed over first and a circle left empty archived (see
 * `withdraw`), and every invite they created revoked. Redelivery is a no-op (inbox), and so is
 * a second deletion event (they are in no circle any more).
 */
export function userDeletedConsumer(
  deps: Pick<CirclesDeps, "outbox" | "cache" | "now">,
): ConsumerSpec<UserDeleted> {
  return {
    name: "circles-user-deleted",
    stream: identityStream.name,
    event: identityEvents.userDeleted,
    async handle({ message: m, metadata }, handlerTrx) {
      if (!isUuid(m.userId)) throw new PermanentFailure(`user_id ${m.userId} is not a UUID`);
      const trx = handlerTrx as Transaction<CirclesDatabase>;
      const withdrawal = {
        actor: { system: "system:account-deletion", correlationId: metadata.correlationId },
        userId: m.userId,
        at: deps.now(),
        details: {},
      } as const;
      await withdraw(deps, trx, { ...withdrawal, roles: ["owner", "moderator", "member"] });
      await revokeInvitesOf(trx, withdrawal);
    },
  };
}
