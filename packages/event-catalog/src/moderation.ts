import type { StreamSpec } from "@kindred/events";
import { defineEvent } from "@kindred/events";
import {
  AccountRestrictedSchema,
  CaseEscalatedSchema,
  CaseOpenedSchema,
  ContentHiddenSchema,
  DecisionMadeSchema,
  DecisionReversedSchema,
  EvidenceReleasedSchema,
} from "@kindred/proto/moderation/events/v1";

/** A case's events form one ordered chain, whatever their subject. */
const ofCase = { aggregateType: "case" } as const;

/** Events the moderation service publishes, on its stream `MODERATION`. */
export const moderationEvents = {
  // Aggregate: the user, so a ban and its lifting stay in order.
  accountRestricted: defineEvent(AccountRestrictedSchema, "moderation.account.restricted.v1"),
  caseOpened: defineEvent(CaseOpenedSchema, "moderation.case.opened.v1"),
  caseEscalated: defineEvent(CaseEscalatedSchema, "moderation.case.escalated.v1"),
  contentHidden: defineEvent(ContentHiddenSchema, "moderation.content.hidden.v1", ofCase),
  evidenceReleased: defineEvent(EvidenceReleasedSchema, "moderation.evidence.released.v1", ofCase),
  decisionMade: defineEvent(DecisionMadeSchema, "moderation.decision.made.v1", ofCase),
  decisionReversed: defineEvent(DecisionReversedSchema, "moderation.decision.reversed.v1", ofCase),
} as const;

const day = 86_400_000;

export const moderationStream: StreamSpec = {
  name: "MODERATION",
  subjects: ["moderation.>"],
  description: "Events of the moderation service: cases, hidden content, decisions, appeals.",
  maxAgeMs: 7 * day,
  maxBytes: 2 * 1024 ** 3,
  duplicateWindowMs: 10 * 60_000,
};
