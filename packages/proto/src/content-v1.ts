/** `kindred.content.v1`: PostService, SupportService and their messages. */
export * from "./gen/kindred/content/v1/post_service_pb.ts";
export * from "./gen/kindred/content/v1/support_service_pb.ts";
export * from "./gen/kindred/content/v1/types_pb.ts";
