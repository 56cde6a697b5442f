import type { StreamSpec } from "@kindred/events";
import { defineEvent } from "@kindred/events";
import {
  CircleArchivedSchema,
  CircleCreatedSchema,
  CircleUpdatedSchema,
  MemberJoinedSchema,
  MemberLeftSchema,
  MemberRemovedSchema,
  MemberRoleChangedSchema,
} from "@kindred/proto/circles/events/v1";

/** Every circles event belongs to the circle: one ordered chain per circle (ADR 12). */
const ofCircle = { aggregateType: "circle" } as const;

/**
 * Events the circles service publishes, on its stream `CIRCLES`. Each carries the circle's
 * version after the change, so projections apply them in order across subjects.
 */
export const circlesEvents = {
  circleCreated: defineEvent(CircleCreatedSchema, "circles.circle.created.v1", ofCircle),
  circleUpdated: defineEvent(CircleUpdatedSchema, "circles.circle.updated.v1", ofCircle),
  circleArchived: defineEvent(CircleArchivedSchema, "circles.circle.archived.v1", ofCircle),
  memberJoined: defineEvent(MemberJoinedSchema, "circles.member.joined.v1", ofCircle),
  memberLeft: defineEvent(MemberLeftSchema, "circles.member.left.v1", ofCircle),
  memberRemoved: defineEvent(MemberRemovedSchema, "circles.member.removed.v1", ofCircle),
  memberRoleChanged: defineEvent(
    MemberRoleChangedSchema,
    "circles.member.role_changed.v1",
    ofCircle,
  ),
} as const;

const day = 86_400_000;

export const circlesStream: StreamSpec = {
  name: "CIRCLES",
  subjects: ["circles.>"],
  description: "Events of the circles service: circles, memberships and roles.",
  maxAgeMs: 7 * day,
  maxBytes: 2 * 1024 ** 3,
  duplicateWindowMs: 10 * 60_000,
};
