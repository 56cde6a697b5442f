import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { moderationEvents } from "@kindred/event-catalog";
import type { Outbox } from "@kindred/events";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import type { Transaction } from "kysely";
import { caseTarget } from "./cases.ts";
import type { ActionName, ModerationDatabase } from "./db/schema.ts";

type Trx = Transaction<ModerationDatabase>;

/** What an account action does to the account, as identity, content and circles apply it. */
const restrictionOf: Partial<Record<ActionName, AccountRestrictionKind>> = {
  suspend: AccountRestrictionKind.SUSPENDED,
  ban: AccountRestrictionKind.BANNED,
  restrict_sos: AccountRestrictionKind.SOS_RESTRICTED,
};
const liftOf: Partial<Record<ActionName, AccountRestrictionKind>> = {
  suspend: AccountRestrictionKind.LIFTED,
  ban: AccountRestrictionKind.LIFTED,
  restrict_sos: AccountRestrictionKind.SOS_RESTRICTION_LIFTED,
};

export interface AccountChange {
  action: ActionName;
  userId: string | null;
  caseId: string;
  until: Date | null;
  at: Date;
  actorId: string;
}

/** Publishes `moderation.account.restricted.v1` for an account action (nothing for others). */
export async function restrictAccount(trx: Trx, outbox: Outbox, change: AccountChange) {
  await publishRestriction(trx, outbox, restrictionOf[change.action], change);
}

/** Publishes the lift of an account action an appeal overturned. */
export async function liftAccount(trx: Trx, outbox: Outbox, change: AccountChange) {
  await publishRestriction(trx, outbox, liftOf[change.action], { ...change, until: null });
}

async function publishRestriction(
  trx: Trx,
  outbox: Outbox,
  kind: AccountRestrictionKind | undefined,
  change: AccountChange,
) {
  if (kind === undefined || change.userId === null) return;
  await outbox.enqueue(
    trx,
    moderationEvents.accountRestricted,
    {
      userId: change.userId,
      kind,
      ...(change.until === null ? {} : { until: timestampFromDate(change.until) }),
      caseId: change.caseId,
      decidedAt: timestampFromDate(change.at),
    },
    { actorId: change.actorId, aggregateId: change.userId, occurredAt: change.at },
  );
}

/**
 * Ends the case's evidence hold now, or schedules its end (`releaseAt`); the sweep publishes a
 * scheduled release when it passes. A held target with a pending appeal gets `null`: held until
 * the appeal is decided.
 */
export async function setEvidenceRelease(
  trx: Trx,
  outbox: Outbox,
  caseId: string,
  releaseAt: Date | null,
  now: Date,
) {
  const hold = await trx
    .selectFrom("evidence_hold")
    .selectAll()
    .where("case_id", "=", caseId)
    .where("released_at", "is", null)
    .forUpdate()
    .executeTakeFirst();
  if (hold === undefined) return;
  if (releaseAt === null || releaseAt.getTime() > now.getTime()) {
    await trx
      .updateTable("evidence_hold")
      .set({ release_at: releaseAt })
      .where("case_id", "=", caseId)
      .execute();
    return;
  }
  await releaseEvidence(trx, outbox, caseId, now);
}

/** Publishes `moderation.evidence.released.v1` for a case whose hold ends now. */
export async function releaseEvidence(trx: Trx, outbox: Outbox, caseId: string, now: Date) {
  const row = await trx
    .selectFrom("mod_case")
    .selectAll()
    .where("id", "=", caseId)
    .executeTakeFirstOrThrow();
  await trx
    .updateTable("evidence_hold")
    .set({ released_at: now, release_at: now })
    .where("case_id", "=", caseId)
    .execute();
  await outbox.enqueue(
    trx,
    moderationEvents.evidenceReleased,
    { caseId, target: caseTarget(row), releasedAt: timestampFromDate(now) },
    { actorId: "system:moderation", aggregateId: caseId, occurredAt: now },
  );
}
