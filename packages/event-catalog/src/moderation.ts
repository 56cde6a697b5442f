import type { StreamSpec } from "@kindred/events";
import { defineEvent } from "@kindred/events";
import { AccountRestrictedSchema } from "@kindred/proto/moderation/events/v1";

/** Events the moderation service publishes, on its stream `MODERATION`. */
export const moderationEvents = {
  accountRestricted: defineEvent(AccountRestrictedSchema, "moderation.account.restricted.v1"),
} as const;

const day = 86_400_000;

export const moderationStream: StreamSpec = {
  name: "MODERATION",
  subjects: ["moderation.>"],
  description: "Events of the moderation service: decisions on content and accounts.",
  maxAgeMs: 7 * day,
  maxBytes: 2 * 1024 ** 3,
  duplicateWindowMs: 10 * 60_000,
};
