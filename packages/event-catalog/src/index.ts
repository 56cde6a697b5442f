/**
 * Every event type and stream of Kindred, in one place: producers enqueue these and consumers
 * subscribe to exactly the same definitions (subject, schema, version).
 */
export { circlesEvents, circlesStream } from "./circles.ts";
export { contentEvents, contentStream } from "./content.ts";
export { identityEvents, identityStream } from "./identity.ts";
export { moderationEvents, moderationStream } from "./moderation.ts";
