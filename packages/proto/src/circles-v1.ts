/** `kindred.circles.v1`: CircleService and its messages. */
export * from "./gen/kindred/circles/v1/circle_service_pb.ts";
export * from "./gen/kindred/circles/v1/types_pb.ts";
