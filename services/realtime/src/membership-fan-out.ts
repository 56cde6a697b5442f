import { create } from "@bufbuild/protobuf";
import { circlesEvents, circlesStream } from "@kindred/event-catalog";
import { CircleRole } from "@kindred/proto/circles/v1";
import {
  MembershipChangeKind,
  SchemaVersion,
  type ServerMessage,
  ServerMessageSchema,
  UnsubscribeReason,
} from "@kindred/proto/realtime/v1";
import type { ChannelHub } from "./channel-hub.ts";
import { circleChannel } from "./channels.ts";
import type { CircleAccess } from "./circle-access.ts";
import { type Feed, feed } from "./feeds.ts";
import { eventFrame } from "./frames.ts";

/** The frame that ends a subscription whose access was taken away. */
export function revokedFrame(channel: string, reason: UnsubscribeReason): ServerMessage {
  return create(ServerMessageSchema, {
    schemaVersion: SchemaVersion.SCHEMA_VERSION_1,
    frame: { case: "unsubscribed", value: { channel, reason } },
  });
}

interface Change {
  kind: MembershipChangeKind;
  circleId: string;
  /** Empty for an archive. */
  userId: string;
  role: CircleRole;
  circleVersion: bigint;
  occurredAt: Date;
  /** The subscriptions it ends (the user's, or everyone's for an archive), and why. */
  revokes?: UnsubscribeReason;
}

/**
 * Circles' membership events, live (ADR 18):
 *
 * - each forgets the cached membership answer of its user (every member's for an archive);
 * - a leave, a removal (with a ban: BANNED) or an archive ends the affected subscriptions of the
 *   circle's channel at once, live or being set up, each told with `unsubscribed {reason}`;
 * - every remaining subscriber of the channel gets a `membership_changed` frame; for an archive
 *   it comes before the subscriptions end, so that everyone learns why.
 *
 * Circles events are read from their own stream, so the frame's cursor is not theirs: it is the
 * channel's content cursor at the time (as in `subscribed`), and a resume does not replay them.
 * Each subject is read by its own subscription; clients order changes by `circle_version`.
 */
export function membershipFeeds(
  hub: ChannelHub,
  access: CircleAccess,
  cursor: (channel: string) => string,
): Feed[] {
  const apply = (change: Change) => {
    const channel = circleChannel(change.circleId);
    const frame = () =>
      eventFrame(channel, cursor(channel), change.occurredAt, {
        case: "membershipChanged",
        value: {
          kind: change.kind,
          circleId: change.circleId,
          userId: change.userId,
          role: change.role,
          circleVersion: change.circleVersion,
        },
      });
    if (change.userId === "") {
      access.forget(change.circleId);
      hub.publish(channel, frame());
      if (change.revokes !== undefined) hub.revoke(channel, change.revokes);
      return;
    }
    access.forget(change.circleId, change.userId);
    if (change.revokes !== undefined) hub.revoke(channel, change.revokes, change.userId);
    hub.publish(channel, frame());
  };
  const none = CircleRole.UNSPECIFIED;
  return [
    feed(circlesStream, circlesEvents.memberJoined, ({ message, metadata }) =>
      apply({
        kind: MembershipChangeKind.JOINED,
        circleId: message.circleId,
        userId: message.userId,
        role: message.role,
        circleVersion: message.circleVersion,
        occurredAt: metadata.occurredAt,
      }),
    ),
    feed(circlesStream, circlesEvents.memberRoleChanged, ({ message, metadata }) =>
      apply({
        kind: MembershipChangeKind.ROLE_CHANGED,
        circleId: message.circleId,
        userId: message.userId,
        role: message.role,
        circleVersion: message.circleVersion,
        occurredAt: metadata.occurredAt,
      }),
    ),
    feed(circlesStream, circlesEvents.memberLeft, ({ message, metadata }) =>
      apply({
        kind: MembershipChangeKind.LEFT,
        circleId: message.circleId,
        userId: message.userId,
        role: none,
        circleVersion: message.circleVersion,
        occurredAt: metadata.occurredAt,
        revokes: UnsubscribeReason.LEFT,
      }),
    ),
    feed(circlesStream, circlesEvents.memberRemoved, ({ message, metadata }) => {
      const banned = message.bannedPermanently || message.bannedUntil !== undefined;
      apply({
        kind: banned ? MembershipChangeKind.BANNED : MembershipChangeKind.REMOVED,
        circleId: message.circleId,
        userId: message.userId,
        role: none,
        circleVersion: message.circleVersion,
        occurredAt: metadata.occurredAt,
        revokes: banned ? UnsubscribeReason.BANNED : UnsubscribeReason.REMOVED,
      });
    }),
    feed(circlesStream, circlesEvents.circleArchived, ({ message, metadata }) =>
      apply({
        kind: MembershipChangeKind.CIRCLE_ARCHIVED,
        circleId: message.circleId,
        userId: "",
        role: none,
        circleVersion: message.circleVersion,
        occurredAt: metadata.occurredAt,
        revokes: UnsubscribeReason.CIRCLE_ARCHIVED,
      }),
    ),
  ];
}
