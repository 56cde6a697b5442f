import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "@kindred/logging";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import type { ClientSocket, SocketListener, Transport, WireFrame } from "./transport.ts";

export interface WsTransportOptions {
  /** Largest frame a client may send; a bigger one closes its socket with 1009. */
  maxFrameBytes: number;
  /**
   * A ping every interval (0: none), which keeps proxies and NATs from dropping a quiet socket;
   * its pongs are the client's heartbeat: the connection closes a socket that neither sends nor
   * answers for its idle timeout.
   */
  pingIntervalMs: number;
  logger: Logger;
}

const textFrame = { binary: false } as const;
const binaryFrame = { binary: true } as const;

function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** The transport on `ws` (ADR 0003), attached to the host's HTTP server in `noServer` mode. */
export class WsTransport implements Transport {
  readonly #server: WebSocketServer;
  readonly #logger: Logger;
  readonly #sockets = new Set<WebSocket>();
  /** The subprotocol realtime chose for each pending handshake. */
  readonly #chosen = new WeakMap<IncomingMessage, string>();
  readonly #pinger: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;

  constructor(options: WsTransportOptions) {
    this.#logger = options.logger;
    this.#server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxFrameBytes,
      perMessageDeflate: false,
      handleProtocols: (_offered, req) => this.#chosen.get(req) ?? false,
    });
    if (options.pingIntervalMs > 0) {
      this.#pinger = setInterval(() => this.#heartbeat(), options.pingIntervalMs);
      this.#pinger.unref();
    }
  }

  accept(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    protocol: string,
    open: (socket: ClientSocket) => SocketListener,
  ): void {
    this.#chosen.set(req, protocol);
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      this.#sockets.add(ws);
      const listener = open({
        get protocol() {
          return ws.protocol;
        },
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        send(frame: WireFrame, written?: () => void) {
          if (ws.readyState !== ws.OPEN) return;
          ws.send(frame, typeof frame === "string" ? textFrame : binaryFrame, written);
        },
        close(code: number, reason: string) {
          ws.close(code, reason);
        },
      });
      ws.on("message", (data, isBinary) => {
        const bytes = bytesOf(data);
        listener.onFrame(isBinary ? new Uint8Array(bytes) : bytes.toString("utf8"));
      });
      ws.on("pong", () => listener.onPong?.());
      ws.on("error", (err) => this.#logger.debug({ err: String(err) }, "websocket error"));
      ws.on("close", (code) => {
        this.#sockets.delete(ws);
        listener.onClose(code);
        if (this.#sockets.size === 0) this.#drained?.();
      });
    });
  }

  /**
   * Pings every socket. A missed pong alone does not cut a socket: one that keeps sending is
   * alive. The connection's idle timeout closes those that neither send nor answer (4010).
   */
  #heartbeat(): void {
    for (const ws of this.#sockets) {
      if (ws.readyState === ws.OPEN) ws.ping();
    }
  }

  async closeAll(code: number, reason: string, deadline: AbortSignal): Promise<void> {
    clearInterval(this.#pinger);
    if (this.#sockets.size > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      for (const ws of this.#sockets) ws.close(code, reason);
      const timedOut = new Promise<void>((resolve) => {
        if (deadline.aborted) resolve();
        deadline.addEventListener("abort", () => resolve(), { once: true });
      });
      await Promise.race([drained, timedOut]);
      for (const ws of this.#sockets) ws.terminate();
    }
    this.#server.close();
  }
}
