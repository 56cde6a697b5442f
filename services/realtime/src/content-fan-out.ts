import { create, type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import type { EventType } from "@kindred/events";
import {
  EscalationStage,
  PostSchema,
  ResponseSchema,
  type SosAlert,
  SosAlertSchema,
  SosStatus,
} from "@kindred/proto/content/v1";
import type { ServerMessage } from "@kindred/proto/realtime/v1";
import type { ChannelHub, Publication } from "./channel-hub.ts";
import { circleChannel } from "./channels.ts";
import { type Feed, feed } from "./feeds.ts";
import { type EventCase, eventFrame } from "./frames.ts";

/** A content event as a frame of its circle's channel, with how it may reach each subscriber. */
export interface CircleFrame {
  channel: string;
  message: ServerMessage;
  publication: Publication;
}

/** How one content event reaches the sockets subscribed to its circle, live or replayed. */
export interface ContentRoute {
  readonly event: EventType;
  /** The frame of a stored event's payload (a replay); throws when it does not decode. */
  frameOf(payload: Uint8Array, occurredAt: Date, sequence: number): CircleFrame;
  /** The live feed of the event into `hub`. */
  feed(hub: ChannelHub): Feed;
}

interface RouteSpec<Message> {
  circleId(message: Message): string;
  /** The frame's event. */
  event(message: Message): EventCase;
  /**
   * The user whose content the frame carries: a connection that hides them (a block, either
   * way) does not get it. Unset for frames that carry nothing of anyone's, such as removals.
   */
  authorId?(message: Message): string;
  /**
   * The frame's event for a connection that hides the author, when it still gets one (an SOS
   * reaches everyone, without its words across a block: ADR 13).
   */
  whenHidden?(message: Message): EventCase;
}

function route<Desc extends DescMessage>(
  event: EventType<Desc>,
  spec: RouteSpec<MessageShape<Desc>>,
): ContentRoute {
  const frame = (message: MessageShape<Desc>, occurredAt: Date, sequence: number) => {
    const channel = circleChannel(spec.circleId(message));
    const cursor = String(sequence);
    return {
      channel,
      message: eventFrame(channel, cursor, occurredAt, spec.event(message)),
      publication: {
        authorId: spec.authorId?.(message),
        whenHidden:
          spec.whenHidden && eventFrame(channel, cursor, occurredAt, spec.whenHidden(message)),
        sequence,
      },
    };
  };
  return {
    event,
    frameOf: (payload, occurredAt, sequence) =>
      frame(fromBinary(event.schema, payload), occurredAt, sequence),
    feed: (hub) =>
      feed(contentStream, event, ({ message, metadata, sequence }) => {
        const {
          channel,
          message: frameMessage,
          publication,
        } = frame(message, metadata.occurredAt, sequence);
        hub.publish(channel, frameMessage, publication);
      }),
  };
}

/** The ids every SOS event carries. */
const idsOf = (sos: { alertId: string; circleId: string; raisedBy: string }) => ({
  alertId: sos.alertId,
  circleId: sos.circleId,
  raisedBy: sos.raisedBy,
});

/**
 * An SOS alert as far as one event tells it: the client merges it into the alert it holds (or
 * fetches the alert). Acknowledgements carry only the new one; the stage is unset where the
 * event does not say it.
 */
function sosAlert(fields: {
  alertId: string;
  circleId: string;
  raisedBy: string;
  status: SosStatus;
  message?: string | undefined;
  stage?: EscalationStage;
  createdAt?: Timestamp | undefined;
  resolvedAt?: Timestamp | undefined;
  acknowledgement?: { userId: string; acknowledgedAt: Timestamp | undefined };
}): SosAlert {
  return create(SosAlertSchema, {
    id: fields.alertId,
    circleId: fields.circleId,
    raisedBy: fields.raisedBy,
    message: fields.message,
    status: fields.status,
    escalationStage: fields.stage ?? EscalationStage.UNSPECIFIED,
    acknowledgements: fields.acknowledgement === undefined ? [] : [fields.acknowledgement],
    createdAt: fields.createdAt,
    resolvedAt: fields.resolvedAt,
  });
}

/**
 * The content events realtime fans out to circle channels, with the CONTENT stream sequence as
 * the channel's cursor. Removals carry every reason alike (the author, a circle moderator, a
 * moderation decision, held for review, the account deleted): clients drop the item; a post
 * held for review that comes back arrives by `content.post.restored.v1` (not fanned out yet).
 * Frames that carry someone's words (posts, edits, responses) are withheld across a block; SOS
 * frames reach everyone, a raised alert without its message across a block (ADR 13).
 */
export const contentRoutes: readonly ContentRoute[] = [
  route(contentEvents.postCreated, {
    circleId: (post) => post.circleId,
    authorId: (post) => post.authorId,
    event: (post) => ({
      case: "postCreated",
      value: create(PostSchema, {
        id: post.postId,
        circleId: post.circleId,
        authorId: post.authorId,
        body: post.body,
        contentWarning: post.contentWarning,
        version: post.version,
        createdAt: post.createdAt,
        expiresAt: post.expiresAt,
      }),
    }),
  }),
  // The event has no creation or expiry time: the client keeps those of the post it holds.
  route(contentEvents.postUpdated, {
    circleId: (post) => post.circleId,
    authorId: (post) => post.authorId,
    event: (post) => ({
      case: "postUpdated",
      value: create(PostSchema, {
        id: post.postId,
        circleId: post.circleId,
        authorId: post.authorId,
        body: post.body,
        contentWarning: post.contentWarning,
        version: post.version,
        updatedAt: post.updatedAt,
      }),
    }),
  }),
  route(contentEvents.postRemoved, {
    circleId: (removed) => removed.circleId,
    event: (removed) => ({
      case: "postRemoved",
      value: { postId: removed.postId, circleId: removed.circleId },
    }),
  }),
  route(contentEvents.responseCreated, {
    circleId: (response) => response.circleId,
    authorId: (response) => response.authorId,
    event: (response) => ({
      case: "responseCreated",
      value: create(ResponseSchema, {
        id: response.responseId,
        postId: response.postId,
        authorId: response.authorId,
        body: response.body,
        createdAt: response.createdAt,
      }),
    }),
  }),
  route(contentEvents.responseRemoved, {
    circleId: (removed) => removed.circleId,
    event: (removed) => ({
      case: "responseRemoved",
      value: {
        responseId: removed.responseId,
        postId: removed.postId,
        circleId: removed.circleId,
      },
    }),
  }),
  route(contentEvents.sosRaised, {
    circleId: (sos) => sos.circleId,
    authorId: (sos) => sos.raisedBy,
    event: (sos) => ({
      case: "sosRaised",
      value: sosAlert({
        ...idsOf(sos),
        message: sos.message,
        status: SosStatus.RAISED,
        stage: EscalationStage.CIRCLE,
        createdAt: sos.raisedAt,
      }),
    }),
    whenHidden: (sos) => ({
      case: "sosRaised",
      value: sosAlert({
        ...idsOf(sos),
        status: SosStatus.RAISED,
        stage: EscalationStage.CIRCLE,
        createdAt: sos.raisedAt,
      }),
    }),
  }),
  route(contentEvents.sosAcknowledged, {
    circleId: (sos) => sos.circleId,
    event: (sos) => ({
      case: "sosAcknowledged",
      value: sosAlert({
        ...idsOf(sos),
        status: SosStatus.ACKNOWLEDGED,
        acknowledgement: { userId: sos.acknowledgedBy, acknowledgedAt: sos.acknowledgedAt },
      }),
    }),
  }),
  route(contentEvents.sosEscalated, {
    circleId: (sos) => sos.circleId,
    event: (sos) => ({
      case: "sosEscalated",
      value: sosAlert({ ...idsOf(sos), status: SosStatus.ESCALATED, stage: sos.stage }),
    }),
  }),
  route(contentEvents.sosResolved, {
    circleId: (sos) => sos.circleId,
    event: (sos) => ({
      case: "sosResolved",
      value: sosAlert({ ...idsOf(sos), status: SosStatus.RESOLVED, resolvedAt: sos.resolvedAt }),
    }),
  }),
];

/** One feed per content event that circle channels carry. */
export function contentFeeds(hub: ChannelHub): Feed[] {
  return contentRoutes.map((route) => route.feed(hub));
}
