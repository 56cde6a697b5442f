/** `kindred.realtime.v1`: the WebSocket protocol's ClientMessage and ServerMessage. */
export * from "./gen/kindred/realtime/v1/messages_pb.ts";
