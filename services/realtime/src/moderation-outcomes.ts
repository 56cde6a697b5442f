import { create } from "@bufbuild/protobuf";
import { moderationEvents, moderationStream } from "@kindred/event-catalog";
import type { Logger } from "@kindred/logging";
import {
  type CaseTarget,
  DecisionAction,
  type DecisionMade,
  TargetKind as EventTargetKind,
} from "@kindred/proto/moderation/events/v1";
import { Action, type Target, TargetKind, TargetSchema } from "@kindred/proto/moderation/v1";
import type { ChannelHub } from "./channel-hub.ts";
import { userChannel } from "./channels.ts";
import { type Feed, feed } from "./feeds.ts";
import { type EventCase, eventFrame } from "./frames.ts";

const actions: Record<DecisionAction, Action> = {
  [DecisionAction.UNSPECIFIED]: Action.UNSPECIFIED,
  [DecisionAction.DISMISS]: Action.DISMISS,
  [DecisionAction.REMOVE_CONTENT]: Action.REMOVE_CONTENT,
  [DecisionAction.WARN]: Action.WARN,
  [DecisionAction.SUSPEND]: Action.SUSPEND,
  [DecisionAction.BAN]: Action.BAN,
  [DecisionAction.RESTRICT_SOS]: Action.RESTRICT_SOS,
};

const targetKinds: Record<EventTargetKind, TargetKind> = {
  [EventTargetKind.UNSPECIFIED]: TargetKind.UNSPECIFIED,
  [EventTargetKind.POST]: TargetKind.POST,
  [EventTargetKind.RESPONSE]: TargetKind.RESPONSE,
  [EventTargetKind.USER]: TargetKind.USER,
  [EventTargetKind.CIRCLE]: TargetKind.CIRCLE,
};

function targetOf(target: CaseTarget | undefined): Target | undefined {
  if (target === undefined) return undefined;
  // A kind newer than this build becomes UNSPECIFIED: the client still has the id.
  return create(TargetSchema, {
    kind: targetKinds[target.kind] ?? TargetKind.UNSPECIFIED,
    id: target.id,
  });
}

/**
 * The affected user's view of a decision. An action newer than this build is sent as
 * UNSPECIFIED: the client learns that a decision exists and fetches it by id. The moderator's
 * note is not in the frame (the protocol has no field for it): the client reads it from the
 * API along with the decision.
 */
export function moderationOutcome(decision: DecisionMade): EventCase {
  return {
    case: "moderationOutcome",
    value: {
      decisionId: decision.decisionId,
      action: actions[decision.action] ?? Action.UNSPECIFIED,
      target: targetOf(decision.target),
      expiresAt: decision.expiresAt,
    },
  };
}

/**
 * `moderation.decision.made.v1` as a `moderation_outcome` frame on the affected user's own
 * channel: every connection of that user, on every instance, gets it. A dismissal is not sent:
 * nothing happened to the user, and telling them would tell them they were reported (ADR 16);
 * content they had held for review simply comes back.
 */
export function moderationFeeds(hub: ChannelHub, logger: Logger): Feed[] {
  return [
    feed(moderationStream, moderationEvents.decisionMade, ({ message, metadata, sequence }) => {
      if (message.action === DecisionAction.DISMISS) return;
      if (message.affectedUserId === "") {
        logger.warn({ eventId: metadata.id, sequence }, "decision without an affected user");
        return;
      }
      const channel = userChannel(message.affectedUserId);
      hub.publish(
        channel,
        eventFrame(channel, String(sequence), metadata.occurredAt, moderationOutcome(message)),
      );
    }),
  ];
}
