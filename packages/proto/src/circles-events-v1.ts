/** `kindred.circles.events.v1`: events the circles service publishes (stream CIRCLES). */
export * from "./gen/kindred/circles/events/v1/circle_events_pb.ts";
