import { timestampDate } from "@bufbuild/protobuf/wkt";
import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import type { Transaction } from "kysely";
import type { ContentDatabase } from "../db/schema.ts";

/**
 * The SOS restriction projection (`sos_restriction`), from `moderation.account.restricted.v1`:
 * `SOS_RESTRICTED` (until `until`, or for good when unset) and `SOS_RESTRICTION_LIFTED`; every
 * other kind (suspensions, bans: identity enforces those) is ignored. The decision with the
 * later `decided_at` wins, whatever order they arrive in, and a lift keeps its row so an older
 * restriction delivered late cannot come back. On a tie the lift wins: a person in crisis is
 * never refused because two decisions could not be ordered.
 */
export const sosRestrictionConsumer: ConsumerSpec<
  (typeof moderationEvents.accountRestricted)["schema"]
> = {
  name: "content-account-restricted",
  stream: moderationStream.name,
  event: moderationEvents.accountRestricted,
  async handle({ message: m, metadata }, untyped) {
    const restricted =
      m.kind === AccountRestrictionKind.SOS_RESTRICTED
        ? true
        : m.kind === AccountRestrictionKind.SOS_RESTRICTION_LIFTED
          ? false
          : undefined;
    if (restricted === undefined) return;
    const decidedAt = m.decidedAt === undefined ? metadata.occurredAt : timestampDate(m.decidedAt);
    await (untyped as Transaction<ContentDatabase>)
      .insertInto("sos_restriction")
      .values({
        user_id: m.userId,
        restricted,
        until: restricted && m.until !== undefined ? timestampDate(m.until) : null,
        case_id: m.caseId,
        decided_at: decidedAt,
      })
      .onConflict((oc) =>
        oc
          .column("user_id")
          .doUpdateSet((eb) => ({
            restricted: eb.ref("excluded.restricted"),
            until: eb.ref("excluded.until"),
            case_id: eb.ref("excluded.case_id"),
            decided_at: eb.ref("excluded.decided_at"),
          }))
          .where((eb) =>
            eb.or([
              eb("sos_restriction.decided_at", "<", eb.ref("excluded.decided_at")),
              eb.and([
                eb("sos_restriction.decided_at", "=", eb.ref("excluded.decided_at")),
                eb("excluded.restricted", "=", false),
              ]),
            ]),
          ),
      )
      .execute();
  },
};
