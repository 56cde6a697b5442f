import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import type { ConsumerSpec, EventMetadata, HandlerTransaction } from "@kindred/events";
import { type CaseTarget, DecisionAction, TargetKind } from "@kindred/proto/moderation/events/v1";
import type { Transaction } from "kysely";
import type { ContentDatabase } from "../db/schema.ts";
import { applyCaseEvent, type CaseFact } from "../moderated-content.ts";
import type { VisibilityDeps } from "../removal.ts";

/**
 * Moderation's case events, applied to the post or response each case is about (ADR 15): one
 * durable consumer per subject, each recording its fact and moving the content to the state
 * that all known facts ask for (`applyCaseEvent`). Cases about users or circles are not
 * content's business here (account decisions arrive as `moderation.account.restricted.v1`).
 */
function apply(
  trx: HandlerTransaction,
  deps: VisibilityDeps,
  message: { caseId: string; target?: CaseTarget },
  metadata: EventMetadata,
  fact: CaseFact,
): Promise<void> {
  const { target } = message;
  const kind =
    target?.kind === TargetKind.POST
      ? "post"
      : target?.kind === TargetKind.RESPONSE
        ? "response"
        : undefined;
  if (target === undefined || kind === undefined) return Promise.resolve();
  return applyCaseEvent(trx as Transaction<ContentDatabase>, deps, { kind, id: target.id }, fact, {
    caseId: message.caseId,
    actorId: metadata.actorId,
  });
}

/** `moderation.case.opened.v1`: an evidence hold on the post or response. */
export const caseOpenedConsumer = (
  deps: VisibilityDeps,
): ConsumerSpec<(typeof moderationEvents.caseOpened)["schema"]> => ({
  name: "content-moderation-case-opened",
  stream: moderationStream.name,
  event: moderationEvents.caseOpened,
  handle: ({ message: m, metadata }, trx) => apply(trx, deps, m, metadata, { kind: "opened" }),
});

/** `moderation.content.hidden.v1`: hidden from everyone but its author until decided. */
export const contentHiddenConsumer = (
  deps: VisibilityDeps,
): ConsumerSpec<(typeof moderationEvents.contentHidden)["schema"]> => ({
  name: "content-moderation-content-hidden",
  stream: moderationStream.name,
  event: moderationEvents.contentHidden,
  handle: ({ message: m, metadata }, trx) =>
    apply(trx, deps, m, metadata, { kind: "hidden", at: timeOf(m.hiddenAt, metadata) }),
});

/** `moderation.decision.made.v1`: `REMOVE_CONTENT` removes it, any other action shows it. */
export const decisionMadeConsumer = (
  deps: VisibilityDeps,
): ConsumerSpec<(typeof moderationEvents.decisionMade)["schema"]> => ({
  name: "content-moderation-decision-made",
  stream: moderationStream.name,
  event: moderationEvents.decisionMade,
  handle: ({ message: m, metadata }, trx) =>
    apply(trx, deps, m, metadata, {
      kind: "decided",
      decisionId: m.decisionId,
      decision: decisionName(m.action),
      // The moderator who decided; `removed_by` stays empty for a system actor.
      by: uuidPattern.test(metadata.actorId) ? metadata.actorId : null,
      at: timeOf(m.decidedAt, metadata),
    }),
});

/**
 * `moderation.decision.reversed.v1`: a reversed `REMOVE_CONTENT` restores the content. Other
 * reversals lift account actions, which `moderation.account.restricted.v1` carries.
 */
export const decisionReversedConsumer = (
  deps: VisibilityDeps,
): ConsumerSpec<(typeof moderationEvents.decisionReversed)["schema"]> => ({
  name: "content-moderation-decision-reversed",
  stream: moderationStream.name,
  event: moderationEvents.decisionReversed,
  handle: async ({ message: m, metadata }, trx) => {
    if (m.action !== DecisionAction.REMOVE_CONTENT) return;
    await apply(trx, deps, m, metadata, { kind: "reversed", decisionId: m.decisionId });
  },
});

/** `moderation.evidence.released.v1`: the case's hold ends; the purge may take it later. */
export const evidenceReleasedConsumer = (
  deps: VisibilityDeps,
): ConsumerSpec<(typeof moderationEvents.evidenceReleased)["schema"]> => ({
  name: "content-moderation-evidence-released",
  stream: moderationStream.name,
  event: moderationEvents.evidenceReleased,
  handle: ({ message: m, metadata }, trx) =>
    apply(trx, deps, m, metadata, { kind: "released", at: timeOf(m.releasedAt, metadata) }),
});

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `DecisionAction` by lower-case name. An action this build does not know is refused (the
 * event becomes a dead letter, to replay after an upgrade): guessing "show it again" could put
 * back content that a new kind of decision meant to keep out of sight.
 */
function decisionName(action: DecisionAction): string {
  const name = DecisionAction[action];
  if (name === undefined || action === DecisionAction.UNSPECIFIED) {
    throw new Error(`DecisionAction ${action} is unknown to this build: not applied`);
  }
  return name.toLowerCase();
}

const timeOf = (at: Timestamp | undefined, metadata: EventMetadata) =>
  at === undefined ? metadata.occurredAt : timestampDate(at);
