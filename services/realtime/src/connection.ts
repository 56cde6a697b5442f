import type { Logger } from "@kindred/logging";
import {
  type ClientMessage,
  CloseCode,
  ErrorCode,
  type ServerMessage,
} from "@kindred/proto/realtime/v1";
import type { ChannelHub, Subscriber } from "./channel-hub.ts";
import { isUserChannel, userChannel } from "./channels.ts";
import type { ConnectedUser, ConnectedUsers, UserConnection } from "./connected-users.ts";
import {
  errorFrame,
  outdatedCursorFrame,
  pongFrame,
  subscribedFrame,
  unsubscribedFrame,
} from "./frames.ts";
import type { ForcedCloseReason, RealtimeMetrics } from "./metrics.ts";
import { type Codec, ProtocolError } from "./protocol.ts";
import type { ClientIdentity } from "./token-verifier.ts";
import type { ClientSocket, SocketListener, WireFrame } from "./transport.ts";

export interface ConnectionOptions {
  hub: ChannelHub;
  /** This instance's connections by user and session, with what each user must not see. */
  users: ConnectedUsers;
  metrics: RealtimeMetrics;
  logger: Logger;
  /** Bytes that may wait in the socket's buffer; over it the client is closed (4008). */
  maxBufferedBytes: number;
  maxSubscriptions: number;
  /** The latest cursor of the stream whose events a channel carries, for `subscribed` frames. */
  cursor: (channel: string) => string;
}

/**
 * One authenticated client: its subscriptions, its messages, its outbound limit. It is in its
 * user's channel for its whole life (not counted against the subscription limit, and not left
 * by an unsubscribe), and registered with its user and session so that a block, a revoked
 * session or a suspension reaches it.
 */
export class Connection implements Subscriber, SocketListener, UserConnection {
  readonly userId: string;
  readonly sessionId: string | undefined;
  readonly codec: Codec;
  readonly #socket: ClientSocket;
  readonly #options: ConnectionOptions;
  readonly #userChannel: string;
  readonly #user: ConnectedUser;
  readonly #subscriptions = new Set<string>();
  #closed = false;

  constructor(
    socket: ClientSocket,
    codec: Codec,
    identity: ClientIdentity,
    options: ConnectionOptions,
  ) {
    this.#socket = socket;
    this.codec = codec;
    this.userId = identity.userId.toLowerCase();
    this.sessionId = identity.sessionId?.toLowerCase();
    this.#options = options;
    this.#userChannel = userChannel(this.userId);
    this.#user = options.users.attach(this);
    options.hub.join(this.#userChannel, this);
    options.metrics.connections.inc();
  }

  /** The channels subscribed by request (the user channel, always there, is not listed). */
  get subscriptions(): ReadonlySet<string> {
    return this.#subscriptions;
  }

  hides(userId: string): boolean {
    return this.#user.hides(userId);
  }

  /**
   * Closes the socket from the server side with `code` and a `reason` safe to show (no
   * details); nothing more is sent to it. The connection is released when the socket closes.
   */
  close(code: number, reason: string, why: ForcedCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.metrics.forcedCloses.inc({ reason: why });
    this.#socket.close(code, reason);
  }

  deliver(frame: WireFrame, kind: string): void {
    if (this.#closed) return;
    const size = typeof frame === "string" ? Buffer.byteLength(frame) : frame.byteLength;
    if (this.#socket.bufferedAmount + size > this.#options.maxBufferedBytes) {
      // TODO(issue 7): drop non-critical frames with a gap notice first; never drop SOS.
      this.#options.logger.warn(
        { userId: this.userId, bufferedAmount: this.#socket.bufferedAmount },
        "closing a slow realtime client",
      );
      this.close(CloseCode.SLOW_CONSUMER, "slow consumer", "slow_consumer");
      return;
    }
    this.#socket.send(frame);
    this.#options.metrics.framesSent.inc({ frame: kind });
  }

  #reply(message: ServerMessage): void {
    this.deliver(this.codec.encode(message), message.frame.case ?? "unknown");
  }

  onFrame(frame: WireFrame): void {
    if (this.#closed) return;
    let message: ClientMessage | undefined;
    try {
      message = this.codec.decode(frame);
      this.#handle(message);
    } catch (err) {
      const ref = message?.ref ?? "";
      if (err instanceof ProtocolError) {
        this.#reply(errorFrame(ref, err.code, err.message));
        return;
      }
      this.#options.logger.error({ err, userId: this.userId }, "realtime message failed");
      this.#reply(errorFrame(ref, ErrorCode.INTERNAL, "the server failed; retry later"));
    }
  }

  #handle(message: ClientMessage): void {
    const { ref, frame } = message;
    switch (frame.case) {
      case "subscribe":
        this.#subscribe(ref, frame.value.channel.toLowerCase(), frame.value.cursor);
        return;
      case "unsubscribe": {
        const channel = frame.value.channel.toLowerCase();
        if (channel === this.#userChannel) {
          this.#reply(
            errorFrame(
              ref,
              ErrorCode.INVALID_MESSAGE,
              "your own user channel stays subscribed as long as the connection is open",
              channel,
            ),
          );
          return;
        }
        if (this.#subscriptions.delete(channel)) {
          this.#options.hub.leave(channel, this);
          this.#options.metrics.subscriptions.dec();
        }
        this.#reply(unsubscribedFrame(ref, channel));
        return;
      }
      case "ping":
        this.#reply(pongFrame(ref, frame.value.nonce));
        return;
      case "auth":
        // TODO(issue 7): authentication by a first auth frame (browsers) and re-auth in place.
        this.#reply(
          errorFrame(
            ref,
            ErrorCode.INVALID_MESSAGE,
            "auth frames are not supported yet; reconnect with Authorization: Bearer <token>",
          ),
        );
        return;
      default:
        this.#reply(errorFrame(ref, ErrorCode.UNKNOWN_MESSAGE, "unknown frame"));
    }
  }

  #subscribe(ref: string, channel: string, cursor: string | undefined): void {
    if (isUserChannel(channel) && channel !== this.#userChannel) {
      this.#reply(
        errorFrame(ref, ErrorCode.PERMISSION_DENIED, "only your own user channel", channel),
      );
      return;
    }
    // TODO(issue 7): `circle:<id>` only for current members (circles' membership projection),
    // revoked live on leave, removal, ban or block. Any authenticated user may subscribe for now.
    // The user channel is joined already; subscribing to it again just answers with its cursor.
    if (channel !== this.#userChannel && !this.#subscriptions.has(channel)) {
      if (this.#subscriptions.size >= this.#options.maxSubscriptions) {
        this.#reply(
          errorFrame(
            ref,
            ErrorCode.LIMIT_EXCEEDED,
            `at most ${this.#options.maxSubscriptions} subscriptions per connection`,
            channel,
          ),
        );
        return;
      }
      this.#subscriptions.add(channel);
      this.#options.hub.join(channel, this);
      this.#options.metrics.subscriptions.inc();
    }
    this.#reply(subscribedFrame(ref, channel, this.#options.cursor(channel)));
    if (cursor !== undefined) {
      // TODO(issue 7): replay from the cursor out of JetStream, then cut over to live. Until
      // then the client is told to refetch what it missed; it is subscribed live from now on.
      this.#reply(outdatedCursorFrame(ref, channel, cursor));
    }
  }

  onClose(): void {
    this.#closed = true;
    const { hub, users, metrics } = this.#options;
    for (const channel of this.#subscriptions) hub.leave(channel, this);
    hub.leave(this.#userChannel, this);
    users.detach(this);
    metrics.subscriptions.dec(this.#subscriptions.size);
    this.#subscriptions.clear();
    metrics.connections.dec();
  }
}
