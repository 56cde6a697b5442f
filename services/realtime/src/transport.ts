import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";

/**
 * The transport seam (ADR 0003): all realtime knows of a WebSocket library. `ws` implements it
 * today; uWebSockets.js (or another server) can replace it without touching auth, protocol,
 * subscriptions or fan-out.
 */

/** A text frame is a string, a binary frame bytes. */
export type WireFrame = string | Uint8Array;

/** One open WebSocket. */
export interface ClientSocket {
  /** The subprotocol agreed in the handshake. */
  readonly protocol: string;
  /** Bytes handed to `send` and not yet written to the network (backpressure). */
  readonly bufferedAmount: number;
  /**
   * Queues `frame` without waiting; `written` runs once it is written to the network (or failed
   * because the socket closed), which is how the connection counts the frames still queued. On a
   * socket that is closing already, the frame is discarded and `written` never runs.
   */
  send(frame: WireFrame, written?: () => void): void;
  /** Starts the closing handshake; a no-op on a socket already closing. */
  close(code: number, reason: string): void;
}

/** What happens on one socket, as the connection sees it. */
export interface SocketListener {
  onFrame(frame: WireFrame): void;
  /** The client answered a heartbeat ping: it is alive although it sends nothing. */
  onPong?(): void;
  onClose(code: number): void;
}

export interface Transport {
  /**
   * Completes the WebSocket handshake of an upgrade request that realtime has accepted
   * (authenticated by its header, or to be authenticated by its first frame), answering with
   * `protocol`, then hands the socket to `open`.
   */
  accept(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    protocol: string,
    open: (socket: ClientSocket) => SocketListener,
  ): void;
  /** Closes every socket with `code`; after `deadline`, cuts those still open. */
  closeAll(code: number, reason: string, deadline: AbortSignal): Promise<void>;
}
