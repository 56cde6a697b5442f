/** `kindred.identity.v1`: AuthService, UserService and their messages. */
export * from "./gen/kindred/identity/v1/auth_service_pb.ts";
export * from "./gen/kindred/identity/v1/types_pb.ts";
export * from "./gen/kindred/identity/v1/user_service_pb.ts";
