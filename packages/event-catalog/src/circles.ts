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

/**
 * Events the circles service publishes, on its stream `CIRCLES`. Each carries the circle's
 * version after the change, so projections apply them in order across subjects.
 */
export const circlesEvents = {
  circleCreated: defineEvent(CircleCreatedSchema, "circles.circle.created.v1"),
  circleUpdated: defineEvent(CircleUpdatedSchema, "circles.circle.updated.v1"),
  circleArchived: defineEvent(CircleArchivedSchema, "circles.circle.archived.v1"),
  memberJoined: defineEvent(MemberJoinedSchema, "circles.member.joined.v1"),
  memberLeft: defineEvent(MemberLeftSchema, "circles.member.left.v1"),
  memberRemoved: defineEvent(MemberRemovedSchema, "circles.member.removed.v1"),
  memberRoleChanged: defineEvent(MemberRoleChangedSchema, "circles.member.role_changed.v1"),
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
