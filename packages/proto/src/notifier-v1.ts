/** `kindred.notifier.v1`: NotifierService and its messages. */
export * from "./gen/kindred/notifier/v1/notifier_service_pb.ts";
export * from "./gen/kindred/notifier/v1/types_pb.ts";
