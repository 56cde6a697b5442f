import type { StreamSpec } from "@kindred/events";
import { defineEvent } from "@kindred/events";
import {
  RolesChangedSchema,
  SessionCompromisedSchema,
  SessionRevokedSchema,
  UserBlockedSchema,
  UserDeletedSchema,
  UserRegisteredSchema,
  UserUnblockedSchema,
} from "@kindred/proto/identity/events/v1";

/** Events the identity service publishes, on its stream `IDENTITY`. */
export const identityEvents = {
  userRegistered: defineEvent(UserRegisteredSchema, "identity.user.registered.v1"),
  userDeleted: defineEvent(UserDeletedSchema, "identity.user.deleted.v1"),
  userBlocked: defineEvent(UserBlockedSchema, "identity.user.blocked.v1"),
  userUnblocked: defineEvent(UserUnblockedSchema, "identity.user.unblocked.v1"),
  rolesChanged: defineEvent(RolesChangedSchema, "identity.roles.changed.v1"),
  sessionRevoked: defineEvent(SessionRevokedSchema, "identity.session.revoked.v1"),
  sessionCompromised: defineEvent(SessionCompromisedSchema, "identity.session.compromised.v1"),
} as const;

const day = 86_400_000;

export const identityStream: StreamSpec = {
  name: "IDENTITY",
  subjects: ["identity.>"],
  description: "Events of the identity service: accounts, blocks, roles, session revocations.",
  // Consumers (and a verifier replaying revocations at start) may be down this long.
  maxAgeMs: 7 * day,
  maxBytes: 2 * 1024 ** 3,
  duplicateWindowMs: 10 * 60_000,
};
