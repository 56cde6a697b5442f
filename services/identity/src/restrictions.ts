import { timestampDate } from "@bufbuild/protobuf/wkt";
import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import type { ConsumerSpec, HandlerTransaction } from "@kindred/events";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import type { Transaction } from "kysely";
import { audit } from "./audit.ts";
import type { IdentityDatabase } from "./db/schema.ts";
import type { IdentityDeps } from "./deps.ts";
import { systemRequest } from "./request-meta.ts";

type AccountRestricted = typeof moderationEvents.accountRestricted.schema;

/**
 * Applies moderation's account decisions (`moderation.account.restricted.v1`): a suspension or
 * ban ends every session of the user at once (their access tokens are refused within seconds
 * through the revocation events) and sign-in is refused until the suspension or time-limited
 * ban ends, or for good after a permanent ban; a lift clears both. Each decision is in the audit log with the moderation case that made it.
 */
export function restrictionConsumer(deps: IdentityDeps): ConsumerSpec<AccountRestricted> {
  return {
    name: "identity-account-restrictions",
    stream: moderationStream.name,
    event: moderationEvents.accountRestricted,
    async handle(event, handlerTrx: HandlerTransaction) {
      const trx = handlerTrx as Transaction<IdentityDatabase>;
      const { userId, kind, until, caseId } = event.message;
      const user = await trx
        .selectFrom("app_user")
        .select("id")
        .where("id", "=", userId)
        .forUpdate()
        .executeTakeFirst();
      if (user === undefined) return; // an account identity never had (or purged): nothing to do
      const now = new Date();
      if (kind === AccountRestrictionKind.LIFTED) {
        await trx
          .updateTable("app_user")
          .set({ suspended_until: null, banned_at: null, updated_at: now })
          .where("id", "=", userId)
          .execute();
      } else if (kind === AccountRestrictionKind.BANNED && until === undefined) {
        await trx
          .updateTable("app_user")
          .set({ banned_at: now, updated_at: now })
          .where("id", "=", userId)
          .execute();
      } else if (
        (kind === AccountRestrictionKind.SUSPENDED || kind === AccountRestrictionKind.BANNED) &&
        until !== undefined
      ) {
        // A time-limited ban keeps the account out exactly as a suspension does, until `until`.
        await trx
          .updateTable("app_user")
          .set({ suspended_until: timestampDate(until), updated_at: now })
          .where("id", "=", userId)
          .execute();
      } else {
        return; // a kind this version does not know: no change, rather than a guess
      }
      const meta = { ...systemRequest, requestId: event.metadata.correlationId ?? "" };
      await audit(
        trx,
        {
          kind: "account_restricted",
          userId,
          actorId: null,
          details: {
            decision: AccountRestrictionKind[kind]?.toLowerCase() ?? String(kind),
            caseId,
            ...(until === undefined ? {} : { until: timestampDate(until).toISOString() }),
          },
        },
        meta,
      );
      if (kind !== AccountRestrictionKind.LIFTED) {
        await deps.sessions.revokeWhere(trx, userId, "account_restricted", meta, { actorId: null });
      }
    },
  };
}
