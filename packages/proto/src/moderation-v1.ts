/** `kindred.moderation.v1`: ModerationService and its messages. */
export * from "./gen/kindred/moderation/v1/moderation_service_pb.ts";
export * from "./gen/kindred/moderation/v1/types_pb.ts";
