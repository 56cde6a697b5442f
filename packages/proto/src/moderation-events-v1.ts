/** `kindred.moderation.events.v1`: events the moderation service publishes (stream MODERATION). */
export * from "./gen/kindred/moderation/events/v1/account_events_pb.ts";
export * from "./gen/kindred/moderation/events/v1/case_events_pb.ts";
export * from "./gen/kindred/moderation/events/v1/decision_events_pb.ts";
