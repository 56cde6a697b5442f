import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { bearerRefusal, bearerToken } from "@kindred/auth";
import type { Logger } from "@kindred/logging";
import { CloseCode } from "@kindred/proto/realtime/v1";
import type { RequestHandler, UpgradeHandler } from "@kindred/runtime";
import { type Codec, chooseCodec, jsonProtocol, protoProtocol } from "./protocol.ts";
import type { Credentials, TokenVerifier } from "./token-verifier.ts";
import type { ClientSocket, SocketListener, Transport } from "./transport.ts";

export const realtimePath = "/v1/realtime";

export interface EndpointOptions {
  transport: Transport;
  verifier: TokenVerifier;
  logger: Logger;
  /**
   * Builds the connection of an accepted socket: authenticated by its upgrade's header, or
   * (`undefined`) to be authenticated by its first frame.
   */
  connect(socket: ClientSocket, codec: Codec, credentials: Credentials | undefined): SocketListener;
}

/** Query parameters that carry a token in other APIs; realtime refuses them (tokens in URLs get logged). */
const tokenParameters = ["access_token", "token"];

/** Answers an upgrade that is refused with a plain HTTP response: no socket is opened. */
function refuse(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ code, message });
  const headers = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
    ...extra,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n${body}`);
}

/** Whether the query of `url` names a token parameter (whatever its value). */
function hasTokenInQuery(url: string): boolean {
  const query = url.indexOf("?");
  if (query < 0) return false;
  const params = new URLSearchParams(url.slice(query + 1));
  return [...params.keys()].some((name) => tokenParameters.includes(name.toLowerCase()));
}

/**
 * `GET /v1/realtime`: agrees on a subprotocol, authenticates the upgrade when it carries
 * `Authorization: Bearer` (mobile clients), and hands the socket to the transport. An upgrade
 * without that header (browsers, which cannot set it) is accepted unauthenticated: its
 * connection waits for an auth frame. A refused upgrade gets an HTTP error with a JSON body
 * (401, 400, 404, 503) and no socket. Tokens are never logged, and never taken from the URL:
 * an upgrade with `?access_token=` (or `?token=`) is refused, so that clients stop sending them.
 */
export class WebSocketEndpoint {
  readonly #options: EndpointOptions;
  #closing = false;

  constructor(options: EndpointOptions) {
    this.#options = options;
  }

  readonly upgrade: UpgradeHandler = (req, socket, head) => {
    // Errors of a socket that is still being checked (the client went away) end it quietly.
    socket.on("error", () => socket.destroy());
    void this.#upgrade(req, socket, head).catch((err: unknown) => {
      this.#options.logger.error({ err }, "realtime upgrade failed");
      refuse(socket, 500, "internal", "the server failed; retry later");
    });
  };

  /** A plain request (no upgrade) to the endpoint is told to upgrade. */
  readonly fallback: RequestHandler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const [status, code, message] =
      path === realtimePath
        ? [426, "failed_precondition", `${realtimePath} is a WebSocket endpoint; upgrade to it`]
        : [404, "not_found", "no such route"];
    const body = JSON.stringify({ code, message });
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...(status === 426 ? { upgrade: "websocket" } : {}),
    });
    res.end(body);
  };

  async #upgrade(req: Parameters<UpgradeHandler>[0], socket: Duplex, head: Buffer) {
    const { logger, verifier, transport } = this.#options;
    const path = (req.url ?? "/").split("?")[0];
    if (path !== realtimePath || req.method !== "GET") {
      refuse(socket, 404, "not_found", "no such route");
      return;
    }
    if (hasTokenInQuery(req.url ?? "")) {
      refuse(
        socket,
        401,
        "unauthenticated",
        "access tokens are not accepted in the URL (URLs are logged): send Authorization: Bearer <token> on the upgrade, or an auth frame first",
        { "www-authenticate": 'Bearer error="invalid_request"' },
      );
      return;
    }
    if (this.#closing) {
      refuse(socket, 503, "unavailable", "the server is restarting; reconnect");
      return;
    }
    const codec = chooseCodec(req.headers["sec-websocket-protocol"]);
    if (codec === undefined) {
      refuse(
        socket,
        400,
        "invalid_argument",
        `offer the subprotocol ${jsonProtocol} or ${protoProtocol} (Sec-WebSocket-Protocol)`,
      );
      return;
    }
    const token = bearerToken(req.headers.authorization);
    if (token === null) {
      refuse(socket, 401, "unauthenticated", "the Authorization header is not a bearer token", {
        "www-authenticate": 'Bearer error="invalid_token"',
      });
      return;
    }
    let credentials: Credentials | undefined;
    if (token !== undefined) {
      try {
        const { userId, sessionId, expiresAt } = await verifier.verify(token);
        credentials = { userId, sessionId, expiresAt, accessToken: token };
      } catch (err) {
        const cause =
          err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
        logger.info(
          { reason: err instanceof Error ? err.message : String(err), cause },
          "token refused",
        );
        if (bearerRefusal(err)?.status === 503) {
          refuse(socket, 503, "unavailable", "tokens cannot be checked right now; retry later");
          return;
        }
        refuse(socket, 401, "unauthenticated", "the access token is invalid or expired", {
          "www-authenticate": 'Bearer error="invalid_token"',
        });
        return;
      }
    }
    if (this.#closing) {
      refuse(socket, 503, "unavailable", "the server is restarting; reconnect");
      return;
    }
    if (socket.destroyed) return;
    transport.accept(req, socket, head, codec.protocol, (client) => {
      logger.debug(
        { userId: credentials?.userId, protocol: codec.protocol, byHeader: token !== undefined },
        "realtime connection opened",
      );
      return this.#options.connect(client, codec, credentials);
    });
  }

  /** Refuses new upgrades and closes every socket with 1012 (service restart): clients reconnect. */
  async shutdown(deadline: AbortSignal): Promise<void> {
    this.#closing = true;
    await this.#options.transport.closeAll(CloseCode.SERVICE_RESTART, "server restart", deadline);
  }
}
