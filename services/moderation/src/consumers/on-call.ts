import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import type { ConsumerSpec } from "@kindred/events";
import { CasePriority, CaseScope, TargetKind } from "@kindred/proto/moderation/events/v1";
import type { PageAlert, Pager } from "../outbound/pager.ts";

/** How on-call moderators are reached (PagerDuty Events API v2 in production, ADR 16). */
export type OnCallPager = Pick<Pager, "page">;

type Opened = (typeof moderationEvents.caseOpened)["schema"];
type Escalated = (typeof moderationEvents.caseEscalated)["schema"];

const kindName = (kind: TargetKind) => TargetKind[kind]?.toLowerCase() ?? "target";

function alertOf(
  caseId: string,
  what: string,
  m: { reason: string; scope: CaseScope; target?: { kind: TargetKind; circleId: string } },
): PageAlert {
  const reason = m.reason.replace("_", " ");
  const kind = kindName(m.target?.kind ?? TargetKind.UNSPECIFIED);
  return {
    caseId,
    // Ids and categories only: what people wrote stays in Kindred.
    summary: `Critical moderation case (${reason}) ${what}: a ${kind} needs a moderator now`,
    severity: "critical",
    ...(m.target?.circleId ? { circleId: m.target.circleId } : {}),
    reason: m.reason,
    details: { case_id: caseId, target_kind: kind, scope: CaseScope[m.scope]?.toLowerCase() ?? "" },
  };
}

/**
 * Pages on-call moderators when a case opens critical (self-harm and crisis signals) or turns
 * critical later. Runs as a consumer of moderation's own stream, so a page is retried until the
 * pager accepts it and survives restarts; the pager de-duplicates by case id, so a redelivered
 * page is harmless.
 */
export function onCallConsumers(pager: OnCallPager) {
  const opened: ConsumerSpec<Opened> = {
    name: "moderation-on-call-opened",
    stream: moderationStream.name,
    event: moderationEvents.caseOpened,
    async handle(event) {
      const m = event.message;
      if (m.priority !== CasePriority.CRITICAL) return;
      await pager.page(alertOf(m.caseId, "opened", m));
    },
  };
  const escalated: ConsumerSpec<Escalated> = {
    name: "moderation-on-call-escalated",
    stream: moderationStream.name,
    event: moderationEvents.caseEscalated,
    async handle(event) {
      const m = event.message;
      if (m.priority !== CasePriority.CRITICAL) return;
      await pager.page(alertOf(m.caseId, "escalated", m));
    },
  };
  return [opened, escalated] as const;
}
