import { fromBinary, fromJson, type JsonValue, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import {
  type ClientMessage,
  ClientMessageSchema,
  ErrorCode,
  SchemaVersion,
  type ServerMessage,
  ServerMessageSchema,
} from "@kindred/proto/realtime/v1";
import type { WireFrame } from "./transport.ts";

/** One canonical protobuf-JSON message per text frame. */
export const jsonProtocol = "kindred.v1.json";
/** One binary protobuf message per binary frame. */
export const protoProtocol = "kindred.v1.proto";

/** A client message the server refuses with an error frame; the connection stays open. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** How one subprotocol reads client frames and writes server frames. */
export interface Codec {
  readonly protocol: string;
  /** Throws `ProtocolError`. */
  decode(frame: WireFrame): ClientMessage;
  encode(message: ServerMessage): WireFrame;
}

const validator = createValidator();

/** Version, known frame, then the rules in messages.proto. */
function checked(message: ClientMessage): ClientMessage {
  if (message.schemaVersion > SchemaVersion.SCHEMA_VERSION_1) {
    throw new ProtocolError(
      ErrorCode.UNSUPPORTED_VERSION,
      `schema version ${message.schemaVersion} is not supported; this server speaks SCHEMA_VERSION_1`,
    );
  }
  if (message.frame.case === undefined) {
    throw new ProtocolError(
      ErrorCode.UNKNOWN_MESSAGE,
      "the message has no frame this server knows",
    );
  }
  const result = validator.validate(ClientMessageSchema, message);
  if (result.kind === "invalid") {
    throw new ProtocolError(
      ErrorCode.INVALID_MESSAGE,
      result.violations.map((v) => v.toString()).join("; "),
    );
  }
  if (result.kind === "error") throw result.error;
  return message;
}

const knownVersions = new Set<unknown>([
  null,
  0,
  1,
  "SCHEMA_VERSION_UNSPECIFIED",
  "SCHEMA_VERSION_1",
]);

const json: Codec = {
  protocol: jsonProtocol,
  decode(frame) {
    if (typeof frame !== "string") {
      throw new ProtocolError(ErrorCode.INVALID_MESSAGE, `${jsonProtocol} carries text frames`);
    }
    let value: JsonValue;
    try {
      value = JSON.parse(frame) as JsonValue;
    } catch {
      throw new ProtocolError(ErrorCode.INVALID_MESSAGE, "the frame is not JSON");
    }
    // Unknown fields are ignored (a newer client's additions), so a newer version must be caught
    // here: its enum name would be ignored too.
    if (
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value) &&
      "schemaVersion" in value &&
      !knownVersions.has(value.schemaVersion)
    ) {
      throw new ProtocolError(
        ErrorCode.UNSUPPORTED_VERSION,
        `schema version ${JSON.stringify(value.schemaVersion)} is not supported; this server speaks SCHEMA_VERSION_1`,
      );
    }
    let message: ClientMessage;
    try {
      message = fromJson(ClientMessageSchema, value, { ignoreUnknownFields: true });
    } catch (err) {
      throw new ProtocolError(
        ErrorCode.INVALID_MESSAGE,
        err instanceof Error ? err.message : String(err),
      );
    }
    return checked(message);
  },
  encode: (message) => toJsonString(ServerMessageSchema, message),
};

const binary: Codec = {
  protocol: protoProtocol,
  decode(frame) {
    if (typeof frame === "string") {
      throw new ProtocolError(ErrorCode.INVALID_MESSAGE, `${protoProtocol} carries binary frames`);
    }
    let message: ClientMessage;
    try {
      message = fromBinary(ClientMessageSchema, frame);
    } catch (err) {
      throw new ProtocolError(
        ErrorCode.INVALID_MESSAGE,
        err instanceof Error ? err.message : String(err),
      );
    }
    return checked(message);
  },
  encode: (message) => toBinary(ServerMessageSchema, message),
};

export const codecs: ReadonlyMap<string, Codec> = new Map([
  [jsonProtocol, json],
  [protoProtocol, binary],
]);

/** The first subprotocol the client offers that this server speaks (`Sec-WebSocket-Protocol`). */
export function chooseCodec(offered: string | undefined): Codec | undefined {
  for (const name of (offered ?? "").split(",")) {
    const codec = codecs.get(name.trim());
    if (codec !== undefined) return codec;
  }
  return undefined;
}
