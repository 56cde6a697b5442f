import { timestampDate } from "@bufbuild/protobuf/wkt";
import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import { type ConsumerSpec, PermanentFailure } from "@kindred/events";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import type { Transaction } from "kysely";
import { isUuid } from "../access.ts";
import type { CirclesDatabase } from "../db/schema.ts";
import type { CirclesDeps } from "../deps.ts";
import { revokeInvitesOf, withdraw } from "../withdrawal.ts";

type AccountRestricted = (typeof moderationEvents.accountRestricted)["schema"];

/**
 * Platform bans (`moderation.account.restricted.v1`, kind `BANNED`): a banned person keeps no
 * authority in any circle. They are removed from every circle where they are an owner or a
 * moderator (a sole owner's circle handed over first, see `withdraw`); plain memberships stay.
 * Every invite they created is revoked. `LIFTED` is recorded (`account_ban`, read by succession)
 * but gives back no role or membership. Suspensions and SOS restrictions are ignored: they end
 * by themselves, identity and content enforce them.
 *
 * The latest decision per user wins (by `decided_at`; on a tie the ban, the safer state), so a
 * decision delivered late, after a newer one, changes nothing. Redelivery is a no-op (inbox), and
 * so is a repeated ban (they hold no role any more).
 */
export function accountRestrictedConsumer(
  deps: Pick<CirclesDeps, "outbox" | "cache" | "now">,
): ConsumerSpec<AccountRestricted> {
  return {
    name: "circles-account-restricted",
    stream: moderationStream.name,
    event: moderationEvents.accountRestricted,
    async handle({ message: m, metadata }, handlerTrx) {
      const banned =
        m.kind === AccountRestrictionKind.BANNED
          ? true
          : m.kind === AccountRestrictionKind.LIFTED
            ? false
            : undefined;
      if (banned === undefined) return;
      if (!isUuid(m.userId)) throw new PermanentFailure(`user_id ${m.userId} is not a UUID`);
      const trx = handlerTrx as Transaction<CirclesDatabase>;
      const decision = {
        user_id: m.userId,
        banned,
        case_id: m.caseId,
        decided_at: m.decidedAt === undefined ? metadata.occurredAt : timestampDate(m.decidedAt),
      };
      const latest = await trx
        .insertInto("account_ban")
        .values(decision)
        .onConflict((oc) =>
          oc
            .column("user_id")
            .doUpdateSet((eb) => ({
              banned: eb.ref("excluded.banned"),
              case_id: eb.ref("excluded.case_id"),
              decided_at: eb.ref("excluded.decided_at"),
            }))
            .where((eb) =>
              eb.or([
                eb("account_ban.decided_at", "<", eb.ref("excluded.decided_at")),
                eb.and([
                  eb("account_ban.decided_at", "=", eb.ref("excluded.decided_at")),
                  eb("excluded.banned", "=", true),
                ]),
              ]),
            ),
        )
        .returning("banned")
        .executeTakeFirst();
      // Nothing returned: a newer decision is already recorded. A lift restores nothing.
      if (latest?.banned !== true) return;
      const withdrawal = {
        actor: { system: "system:account-ban", correlationId: metadata.correlationId },
        userId: m.userId,
        at: deps.now(),
        details: { case: m.caseId },
      } as const;
      await withdraw(deps, trx, { ...withdrawal, roles: ["owner", "moderator"] });
      await revokeInvitesOf(trx, withdrawal);
    },
  };
}
