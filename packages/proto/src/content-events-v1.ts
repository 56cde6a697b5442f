/** `kindred.content.events.v1`: events the content service publishes (stream CONTENT). */
export * from "./gen/kindred/content/events/v1/post_events_pb.ts";
export * from "./gen/kindred/content/events/v1/sos_events_pb.ts";
