/** `kindred.identity.events.v1`: events the identity service publishes (stream IDENTITY). */
export * from "./gen/kindred/identity/events/v1/session_events_pb.ts";
export * from "./gen/kindred/identity/events/v1/user_events_pb.ts";
