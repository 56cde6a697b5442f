import type { StreamSpec } from "@kindred/events";
import { defineEvent } from "@kindred/events";
import { PostCreatedSchema } from "@kindred/proto/content/events/v1";

/** Events the content service publishes, on its stream `CONTENT`. */
export const contentEvents = {
  postCreated: defineEvent(PostCreatedSchema, "content.post.created.v1"),
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
