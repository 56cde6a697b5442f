import type { StreamSpec } from "@kindred/events";
import { defineEvent } from "@kindred/events";
import {
  PostCreatedSchema,
  PostRemovedSchema,
  PostRestoredSchema,
  PostUpdatedSchema,
  ResponseCreatedSchema,
  ResponseRemovedSchema,
  ResponseRestoredSchema,
  SosAcknowledgedSchema,
  SosEscalatedSchema,
  SosRaisedSchema,
  SosResolvedSchema,
} from "@kindred/proto/content/events/v1";

const ofPost = { aggregateType: "post" } as const;

/** Events the content service publishes, on its stream `CONTENT`. */
export const contentEvents = {
  postCreated: defineEvent(PostCreatedSchema, "content.post.created.v1"),
  postUpdated: defineEvent(PostUpdatedSchema, "content.post.updated.v1"),
  postRemoved: defineEvent(PostRemovedSchema, "content.post.removed.v1"),
  postRestored: defineEvent(PostRestoredSchema, "content.post.restored.v1"),
  // A post's responses are in one chain with the post's own events (aggregate: the post).
  responseCreated: defineEvent(ResponseCreatedSchema, "content.response.created.v1", ofPost),
  responseRemoved: defineEvent(ResponseRemovedSchema, "content.response.removed.v1", ofPost),
  responseRestored: defineEvent(ResponseRestoredSchema, "content.response.restored.v1", ofPost),
  sosRaised: defineEvent(SosRaisedSchema, "content.sos.raised.v1"),
  sosAcknowledged: defineEvent(SosAcknowledgedSchema, "content.sos.acknowledged.v1"),
  sosEscalated: defineEvent(SosEscalatedSchema, "content.sos.escalated.v1"),
  sosResolved: defineEvent(SosResolvedSchema, "content.sos.resolved.v1"),
} as const;

const day = 86_400_000;

export const contentStream: StreamSpec = {
  name: "CONTENT",
  subjects: ["content.>"],
  description: "Events of the content service: posts, responses, SOS alerts.",
  // A consumer may be down this long and still catch up; realtime resumes within it.
  maxAgeMs: 7 * day,
  maxBytes: 10 * 1024 ** 3,
  // Longer than any relay outage we expect to repair by re-publishing without duplicates.
  duplicateWindowMs: 10 * 60_000,
};
