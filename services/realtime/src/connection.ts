import { bearerRefusal } from "@kindred/auth";
import type { Logger } from "@kindred/logging";
import {
  type ClientMessage,
  CloseCode,
  ErrorCode,
  type ServerMessage,
  type UnsubscribeReason,
} from "@kindred/proto/realtime/v1";
import { type ChannelHub, messageFor, type Subscriber } from "./channel-hub.ts";
import { circleIdOf, userChannel } from "./channels.ts";
import type { Admission, CircleAccess } from "./circle-access.ts";
import { type ConnectionLimits, connectionDefaults } from "./config.ts";
import type { ConnectedUser, ConnectedUsers, UserConnection } from "./connected-users.ts";
import {
  authenticatedFrame,
  type Delivery,
  deliveryOf,
  errorFrame,
  gapFrame,
  outdatedCursorFrame,
  pongFrame,
  subscribedFrame,
  unsubscribedFrame,
} from "./frames.ts";
import { revokedFrame } from "./membership-fan-out.ts";
import { MessageRate } from "./message-rate.ts";
import type { ForcedCloseReason, RealtimeMetrics } from "./metrics.ts";
import { Outbound } from "./outbound.ts";
import { type Codec, ProtocolError } from "./protocol.ts";
import { type ContentHistory, resumePlan, SubscriptionSetup } from "./replay.ts";
import type { ClientIdentity, Credentials, TokenVerifier } from "./token-verifier.ts";
import type { ClientSocket, SocketListener, WireFrame } from "./transport.ts";

export interface ConnectionOptions {
  hub: ChannelHub;
  /** This instance's connections by user and session, with what each user must not see. */
  users: ConnectedUsers;
  metrics: RealtimeMetrics;
  logger: Logger;
  /** Bytes that may wait in the socket's buffer; over it, non-critical frames are dropped. */
  maxBufferedBytes: number;
  maxSubscriptions: number;
  /** The latest cursor of the stream whose events a channel carries, for `subscribed` frames. */
  cursor: (channel: string) => string;
  /**
   * Checks the tokens of auth frames. Without one (connections tests build by hand), every auth
   * frame is refused.
   */
  verifier?: TokenVerifier | undefined;
  /** The connection's other limits and timeouts; each one unset is its config default. */
  limits?: Partial<ConnectionLimits> | undefined;
  /** Who may subscribe to a circle's channel (ADR 18). */
  access: CircleAccess;
  /** Where a subscribe with a cursor replays from. */
  history: ContentHistory;
  /** Most events a resume reads (and live frames it holds meanwhile); beyond: outdated cursor. */
  maxReplayEvents: number;
}

/** The standard close code 1013 (try again later): tokens cannot be checked right now. */
const tryAgainLater = 1013;

/** The longest delay `setTimeout` takes (about 24.8 days); a later expiry is re-armed. */
const maxTimerMs = 2_147_483_647;

/** Ids of a token are matched whatever their case. */
function normalized(credentials: Credentials): Credentials {
  return {
    ...credentials,
    userId: credentials.userId.toLowerCase(),
    sessionId: credentials.sessionId?.toLowerCase(),
  };
}

/**
 * One client socket, from its upgrade to its close.
 *
 * - Until it is authenticated — by its upgrade's `Authorization` header, or by an auth frame as
 *   its first message within the auth timeout (4000; anything else first, or a refused token:
 *   4001) — it gets nothing and is in no channel.
 * - Authenticated, it is in its user's channel for its whole life (not counted against the
 *   subscription limit, and not left by an unsubscribe), and registered with its user and
 *   session so that a block, a revoked session or a suspension reaches it. It may send a new
 *   auth frame of the same user before its token expires; otherwise it is closed then (4002).
 * - Its frames go out through its `Outbound`: none waits, droppable ones are dropped with a gap
 *   notice when it reads too slowly, and it is closed if it stays too slow (4008).
 * - Its messages are paced by a token bucket (error frames, then 4029), and it is closed when
 *   it neither sends nor answers a ping for the idle timeout (4010).
 */
export class Connection implements Subscriber, SocketListener, UserConnection {
  readonly codec: Codec;
  readonly #socket: ClientSocket;
  readonly #options: ConnectionOptions;
  readonly #limits: ConnectionLimits;
  readonly #outbound: Outbound;
  readonly #rate: MessageRate;
  /** Set once authenticated; a re-authentication replaces it. */
  #credentials: Credentials | undefined;
  /** The user's own channel; empty until authenticated. */
  #userChannel = "";
  /** The user's entry in the registry; undefined until authenticated. */
  #user: ConnectedUser | undefined;
  readonly #subscriptions = new Set<string>();
  /** Circle subscribes under way (membership check, resume), by channel. */
  readonly #setups = new Map<string, SubscriptionSetup>();
  #closed = false;
  /** `onClose` ran: everything is released. */
  #released = false;
  /** A token is being checked: messages that arrive meanwhile wait for it, in order. */
  #checking = false;
  #waiting: WireFrame[] = [];
  /** When the client last sent a message or answered a ping (`Date.now()`). */
  #lastHeard: number;
  #authTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  /**
   * `credentials`: those of the upgrade's header, or undefined for an upgrade without one, which
   * must send an auth frame first.
   */
  constructor(
    socket: ClientSocket,
    codec: Codec,
    credentials: Credentials | undefined,
    options: ConnectionOptions,
  ) {
    this.#socket = socket;
    this.codec = codec;
    this.#options = options;
    const limits: ConnectionLimits = {
      ...connectionDefaults,
      maxBufferedBytes: options.maxBufferedBytes,
      ...options.limits,
    };
    this.#limits = limits;
    this.#outbound = new Outbound(socket, {
      maxBufferedBytes: limits.maxBufferedBytes,
      maxQueuedFrames: limits.maxQueuedFrames,
      slowClientGraceMs: limits.slowClientGraceMs,
      metrics: options.metrics,
      gapFrame: (channel, dropped, resumeCursor) =>
        codec.encode(gapFrame(channel, dropped, resumeCursor)),
      onSlow: () => this.#slow(),
    });
    this.#rate = new MessageRate({
      perSecond: limits.messagesPerSecond,
      burst: limits.messageBurst,
      floodCloseMs: limits.floodCloseMs,
    });
    options.metrics.connections.inc();
    this.#lastHeard = Date.now();
    this.#watchIdle();
    if (credentials !== undefined) {
      this.#authenticate(credentials, undefined);
    } else {
      this.#authTimer = setTimeout(
        () => this.close(CloseCode.AUTH_TIMEOUT, "authentication timeout", "auth_timeout"),
        limits.authTimeoutMs,
      );
      this.#authTimer.unref();
    }
  }

  /** Lower-case; empty until authenticated. */
  get userId(): string {
    return this.#credentials?.userId ?? "";
  }

  /** Lower-case; undefined until authenticated, and for a token without `sid`. */
  get sessionId(): string | undefined {
    return this.#credentials?.sessionId;
  }

  get authenticated(): boolean {
    return this.#credentials !== undefined;
  }

  /** When the current token expires; undefined before authentication or for a token without. */
  get expiresAt(): Date | undefined {
    return this.#credentials?.expiresAt;
  }

  /**
   * The access token the connection is authenticated with now (a re-authentication replaces
   * it), to call other services on the user's behalf. Never log it. Throws before
   * authentication; empty for connections tests build by hand without one.
   */
  accessToken(): string {
    if (this.#credentials === undefined) throw new Error("the connection is not authenticated");
    return this.#credentials.accessToken ?? "";
  }

  /** The channels subscribed by request (the user channel, always there, is not listed). */
  get subscriptions(): ReadonlySet<string> {
    return this.#subscriptions;
  }

  hides(userId: string): boolean {
    return this.#user?.hides(userId) ?? false;
  }

  /**
   * Closes the socket from the server side with `code` and a `reason` safe to show (no
   * details); nothing more is sent to it. The connection is released when the socket closes.
   */
  close(code: number, reason: string, why: ForcedCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimers();
    this.#outbound.close();
    this.#waiting = [];
    this.#options.metrics.forcedCloses.inc({ reason: why });
    this.#socket.close(code, reason);
  }

  /**
   * Sends an encoded frame (`kind` labels the metric). `delivery` (`deliveryOf` the message)
   * marks a channel event: droppable for a slow client unless critical, and counted in the
   * delivery latency. A frame without it is never dropped. Nothing reaches a connection that is
   * not authenticated.
   */
  deliver(frame: WireFrame, kind: string, delivery?: Delivery): void {
    if (this.#closed || this.#credentials === undefined) return;
    this.#outbound.send(frame, kind, delivery);
  }

  #reply(message: ServerMessage): void {
    this.deliver(this.codec.encode(message), message.frame.case ?? "unknown", deliveryOf(message));
  }

  onFrame(frame: WireFrame): void {
    if (this.#closed) return;
    const now = Date.now();
    this.#lastHeard = now;
    switch (this.#rate.take(now)) {
      case "accept":
        break;
      case "close":
        this.close(CloseCode.RATE_LIMITED, "rate limited", "rate_limited");
        return;
      case "refuse": {
        const { messagesPerSecond, messageBurst } = this.#limits;
        // Refused unread, so its ref is not known. Nothing is sent before authentication.
        this.#reply(
          errorFrame(
            "",
            ErrorCode.RATE_LIMITED,
            `at most ${messagesPerSecond} messages a second (${messageBurst} at once): messages over it are dropped, and a client that keeps sending is disconnected`,
          ),
        );
        return;
      }
      case "refuse-quietly":
        return;
    }
    if (this.#checking) {
      this.#waiting.push(frame);
      return;
    }
    this.#receive(frame);
  }

  onPong(): void {
    this.#lastHeard = Date.now();
  }

  #receive(frame: WireFrame): void {
    if (this.#credentials === undefined) {
      this.#receiveFirst(frame);
      return;
    }
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

  /** The first message of a socket its upgrade did not authenticate: an auth frame, or the end. */
  #receiveFirst(frame: WireFrame): void {
    let message: ClientMessage | undefined;
    try {
      message = this.codec.decode(frame);
    } catch {
      message = undefined;
    }
    if (message?.frame.case !== "auth") {
      this.close(
        CloseCode.UNAUTHENTICATED,
        "authenticate first: send an auth frame",
        "unauthenticated",
      );
      return;
    }
    this.#checkToken(message.ref, message.frame.value.accessToken);
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
        this.#abandonSetup(channel);
        if (this.#subscriptions.delete(channel)) {
          this.#options.hub.leave(channel, this);
          this.#options.metrics.subscriptions.dec();
          this.#outbound.forget(channel);
        }
        this.#reply(unsubscribedFrame(ref, channel));
        return;
      }
      case "ping":
        this.#reply(pongFrame(ref, frame.value.nonce));
        return;
      case "auth":
        this.#checkToken(ref, frame.value.accessToken);
        return;
      default:
        this.#reply(errorFrame(ref, ErrorCode.UNKNOWN_MESSAGE, "unknown frame"));
    }
  }

  /**
   * Checks the token of an auth frame; the messages that arrive meanwhile wait for the answer,
   * so that they are handled as of the new token (and not at all if a first one is refused).
   */
  #checkToken(ref: string, token: string): void {
    const verifier = this.#options.verifier;
    if (verifier === undefined) {
      this.#tokenRefused(ref, new Error("no token verifier is configured"));
      return;
    }
    this.#checking = true;
    void verifier
      .verify(token)
      .then(
        (identity) => this.#tokenAccepted(ref, token, identity),
        (err: unknown) => this.#tokenRefused(ref, err),
      )
      .catch((err: unknown) => {
        this.#options.logger.error({ err, userId: this.userId }, "realtime authentication failed");
      })
      .finally(() => this.#handleWaiting());
  }

  /** Handles, in order, the messages that waited for a token check. */
  #handleWaiting(): void {
    this.#checking = false;
    while (!this.#checking && !this.#closed) {
      const next = this.#waiting.shift();
      if (next === undefined) return;
      this.#receive(next);
    }
  }

  #tokenAccepted(ref: string, accessToken: string, identity: ClientIdentity): void {
    if (this.#closed) return;
    const credentials = normalized({
      userId: identity.userId,
      sessionId: identity.sessionId,
      expiresAt: identity.expiresAt,
      accessToken,
    });
    const current = this.#credentials;
    if (current === undefined) {
      this.#authenticate(credentials, ref);
      return;
    }
    if (credentials.userId !== current.userId) {
      this.#reply(
        errorFrame(
          ref,
          ErrorCode.UNAUTHENTICATED,
          "the new access token is another user's: open a new connection with it",
        ),
      );
      this.close(CloseCode.UNAUTHENTICATED, "token of another user", "unauthenticated");
      return;
    }
    // Same user: the new token, its expiry and its session replace the current ones.
    this.#credentials = credentials;
    this.#options.users.moveSession(this, current.sessionId);
    this.#watchExpiry();
    this.#reply(authenticatedFrame(ref, credentials.userId, credentials.expiresAt));
  }

  #tokenRefused(ref: string, err: unknown): void {
    if (this.#closed) return;
    const unavailable = bearerRefusal(err)?.status === 503;
    // Why, never the token.
    this.#options.logger.info(
      {
        userId: this.#credentials?.userId,
        reason: err instanceof Error ? err.message : String(err),
        cause: err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined,
      },
      "auth frame refused",
    );
    if (this.#credentials === undefined) {
      if (unavailable) {
        this.close(tryAgainLater, "tokens cannot be checked now; retry", "auth_unavailable");
      } else {
        this.close(CloseCode.UNAUTHENTICATED, "invalid or expired token", "unauthenticated");
      }
      return;
    }
    // A refused new token leaves the connection on its current one, until that one expires.
    this.#reply(
      unavailable
        ? errorFrame(ref, ErrorCode.INTERNAL, "tokens cannot be checked right now; retry")
        : errorFrame(
            ref,
            ErrorCode.UNAUTHENTICATED,
            "the new access token is invalid or expired; the current one holds until it expires",
          ),
    );
  }

  /**
   * Makes the connection its user's, unless the user has the most connections allowed here
   * already (an error frame, then 4009). `ref`: that of the auth frame, answered with an
   * `authenticated` frame; undefined for an upgrade's header, which gets none.
   */
  #authenticate(credentials: Credentials, ref: string | undefined): void {
    const { hub, users } = this.#options;
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    const { userId, expiresAt } = normalized(credentials);
    const max = this.#limits.maxConnectionsPerUser;
    if (users.ofUser(userId).length >= max) {
      // Told why although not authenticated: its token was good, the count is not.
      const refusal = errorFrame(
        ref ?? "",
        ErrorCode.LIMIT_EXCEEDED,
        `at most ${max} connections per user: close another one first`,
      );
      this.#outbound.send(this.codec.encode(refusal), "error");
      this.close(CloseCode.TOO_MANY_CONNECTIONS, "too many connections", "too_many_connections");
      return;
    }
    this.#credentials = normalized(credentials);
    this.#userChannel = userChannel(userId);
    this.#user = users.attach(this);
    hub.join(this.#userChannel, this);
    this.#watchExpiry();
    if (ref !== undefined) this.#reply(authenticatedFrame(ref, userId, expiresAt));
  }

  /** Closes the socket when its token expires (4002), unless a new one comes first. */
  #watchExpiry(): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    const expiresAt = this.#credentials?.expiresAt;
    if (expiresAt === undefined || this.#closed) return;
    const delay = Math.min(Math.max(0, expiresAt.getTime() - Date.now()), maxTimerMs);
    this.#expiryTimer = setTimeout(() => {
      if (Date.now() < expiresAt.getTime()) this.#watchExpiry();
      else this.close(CloseCode.TOKEN_EXPIRED, "token expired", "token_expired");
    }, delay);
    this.#expiryTimer.unref();
  }

  /**
   * Closes the socket once it has sent nothing and answered no ping for the idle timeout (4010).
   * Activity only records a time; the timer is re-armed when it fires, not on every message.
   */
  #watchIdle(): void {
    const timeout = this.#limits.idleTimeoutMs;
    if (timeout <= 0 || this.#closed) return;
    const quiet = Date.now() - this.#lastHeard;
    this.#idleTimer = setTimeout(
      () => {
        if (Date.now() - this.#lastHeard >= timeout) {
          this.close(CloseCode.IDLE_TIMEOUT, "idle timeout", "idle_timeout");
        } else {
          this.#watchIdle();
        }
      },
      Math.max(0, timeout - quiet),
    );
    this.#idleTimer.unref();
  }

  #stopTimers(): void {
    clearTimeout(this.#authTimer);
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#idleTimer);
    this.#authTimer = undefined;
    this.#expiryTimer = undefined;
    this.#idleTimer = undefined;
  }

  /** The outbound queue stayed over its limits for the grace period. */
  #slow(): void {
    this.#options.logger.warn(
      {
        userId: this.userId,
        bufferedAmount: this.#socket.bufferedAmount,
        queued: this.#outbound.queued,
      },
      "closing a slow realtime client",
    );
    this.close(CloseCode.SLOW_CONSUMER, "slow consumer", "slow_consumer");
  }

  #subscribe(ref: string, channel: string, cursor: string | undefined): void {
    const circleId = circleIdOf(channel);
    if (circleId === undefined) {
      if (channel !== this.#userChannel) {
        this.#reply(
          errorFrame(ref, ErrorCode.PERMISSION_DENIED, "only your own user channel", channel),
        );
        return;
      }
      // The user channel is joined already; subscribing to it again answers with its cursor. Its
      // frames (moderation outcomes) are not replayed: a cursor is answered as outdated, and the
      // client refetches its decisions.
      this.#reply(subscribedFrame(ref, channel, this.#options.cursor(channel)));
      if (cursor !== undefined) this.#reply(outdatedCursorFrame(ref, channel, cursor));
      return;
    }
    // The same subscribe is under way already: its answer is coming.
    if (this.#setups.has(channel)) return;
    const { maxSubscriptions, maxReplayEvents, hub } = this.#options;
    if (
      !this.#subscriptions.has(channel) &&
      this.#subscriptions.size + this.#setups.size >= maxSubscriptions
    ) {
      this.#reply(
        errorFrame(
          ref,
          ErrorCode.LIMIT_EXCEEDED,
          `at most ${maxSubscriptions} subscriptions per connection`,
          channel,
        ),
      );
      return;
    }
    const setup = new SubscriptionSetup(this.userId, Math.max(maxReplayEvents, 1_000));
    this.#setups.set(channel, setup);
    hub.await(channel, setup);
    this.#admit({ ref, channel, circleId, cursor, setup }, 0);
  }

  /**
   * Asks circles (or the cache) whether the user is a member, and goes on with the answer: at
   * once when it is known, otherwise when it comes, while the connection keeps handling other
   * messages. A membership event about the user and circle that arrives meanwhile makes the
   * answer doubtful: the question is asked again.
   */
  #admit(request: SetupRequest, attempt: number): void {
    const { channel, circleId, setup } = request;
    const decide = (answer: Admission) => {
      let admission = answer;
      if (!this.#wanted(request)) {
        this.#endSetup(channel, setup);
        return;
      }
      if (admission.allowed && setup.revoked !== undefined) {
        setup.revoked = undefined;
        if (attempt < 2) {
          this.#admit(request, attempt + 1);
          return;
        }
        admission = {
          allowed: false,
          code: ErrorCode.INTERNAL,
          message: "your membership of this circle is changing; try again",
        };
      }
      if (!admission.allowed) {
        this.#endSetup(channel, setup);
        // A second subscribe refused: the first one does not outlive the membership.
        const noLonger =
          admission.code === ErrorCode.PERMISSION_DENIED || admission.code === ErrorCode.NOT_FOUND;
        if (noLonger) this.#drop(channel);
        this.#reply(errorFrame(request.ref, admission.code, admission.message, channel));
        return;
      }
      if (request.cursor === undefined) {
        this.#endSetup(channel, setup);
        this.#join(channel, 0);
        this.#reply(subscribedFrame(request.ref, channel, this.#options.cursor(channel)));
        return;
      }
      this.#resume(request, request.cursor).catch((err: unknown) =>
        this.#setupFailed(request, err),
      );
    };
    try {
      const answer = this.#options.access.admit(this.userId, circleId, this.accessToken());
      if (answer instanceof Promise) {
        answer.then(decide).catch((err: unknown) => this.#setupFailed(request, err));
      } else {
        decide(answer);
      }
    } catch (err) {
      this.#setupFailed(request, err);
    }
  }

  /**
   * Replays the channel's frames stored after `cursor`, then cuts over to live (ADR 18). Live
   * frames of the channel wait in the setup from before the stream's end is read until the
   * replay is sent: then those after the replayed range follow, and the connection rejoins the
   * hub in the same turn, with the replay's end as its floor: nothing is skipped or repeated.
   */
  async #resume(request: SetupRequest, cursor: string): Promise<void> {
    const { channel, setup, ref } = request;
    const { hub, history, maxReplayEvents } = this.#options;
    hub.leave(channel, this);
    this.#join(channel, undefined);
    setup.buffer();
    const plan = resumePlan(cursor, await history.bounds(), maxReplayEvents);
    if (this.#setupInterrupted(request)) return;
    if (!plan.replay) {
      this.#reply(subscribedFrame(ref, channel, this.#options.cursor(channel)));
      this.#reply(outdatedCursorFrame(ref, channel, cursor));
      this.#cutOver(channel, setup, 0);
      return;
    }
    this.#reply(subscribedFrame(ref, channel, String(plan.until)));
    await history.read(channel, plan.after, plan.until, (frame) => {
      if (!this.#wanted(request) || setup.revoked !== undefined || setup.overflowed) return false;
      const message = messageFor(this, frame.message, frame.publication);
      if (message !== undefined) this.#sendEvent(message);
      return true;
    });
    if (this.#setupInterrupted(request)) return;
    // More live frames came than a setup holds: some are lost, so the client refetches.
    if (setup.overflowed) this.#reply(outdatedCursorFrame(ref, channel, cursor));
    this.#cutOver(channel, setup, plan.until);
  }

  /** Sends the live frames a setup held (those after `floor`), then joins the channel live. */
  #cutOver(channel: string, setup: SubscriptionSetup, floor: number): void {
    for (const { message, publication } of setup.drain()) {
      if (publication.sequence !== undefined && publication.sequence <= floor) continue;
      const variant = messageFor(this, message, publication);
      if (variant !== undefined) this.#sendEvent(variant);
    }
    this.#endSetup(channel, setup);
    this.#options.hub.join(channel, this, floor);
  }

  /**
   * An event frame the hub did not send (replayed, or held during a resume). Not counted in the
   * commit → frame latency: a replayed event is as old as the client's cursor.
   */
  #sendEvent(message: ServerMessage): void {
    const delivery = deliveryOf(message);
    this.deliver(
      this.codec.encode(message),
      message.frame.case ?? "unknown",
      delivery && { ...delivery, occurredAt: undefined },
    );
  }

  /**
   * After a wait of a resume: true when it must stop, because the client unsubscribed or went
   * away (nothing more to do) or lost access meanwhile (the subscription ends, as live).
   */
  #setupInterrupted(request: SetupRequest): boolean {
    const { channel, setup } = request;
    if (!this.#wanted(request)) {
      setup.drain();
      this.#endSetup(channel, setup);
      return true;
    }
    if (setup.revoked === undefined) return false;
    setup.drain();
    this.#endSetup(channel, setup);
    this.#drop(channel);
    this.#reply(revokedFrame(channel, setup.revoked));
    return true;
  }

  #setupFailed(request: SetupRequest, err: unknown): void {
    const { channel, setup } = request;
    const wanted = this.#wanted(request);
    setup.drain();
    this.#endSetup(channel, setup);
    if (!wanted) return;
    this.#options.logger.error({ err, userId: this.userId, channel }, "realtime subscribe failed");
    this.#drop(channel);
    this.#reply(
      errorFrame(request.ref, ErrorCode.INTERNAL, "the subscribe failed; try again", channel),
    );
  }

  /** Whether the setup is still the connection's current one for its channel. */
  #wanted({ channel, setup }: SetupRequest): boolean {
    return !this.#closed && this.#setups.get(channel) === setup;
  }

  #endSetup(channel: string, setup: SubscriptionSetup): void {
    this.#options.hub.settle(channel, setup);
    if (this.#setups.get(channel) === setup) this.#setups.delete(channel);
  }

  /** An unsubscribe ends a setup under way too: its answer is dropped when it comes. */
  #abandonSetup(channel: string): void {
    const setup = this.#setups.get(channel);
    if (setup !== undefined) this.#endSetup(channel, setup);
  }

  /** Counts the channel as subscribed and, given a floor, joins it in the hub. */
  #join(channel: string, floor: number | undefined): void {
    if (!this.#subscriptions.has(channel)) {
      this.#subscriptions.add(channel);
      this.#options.metrics.subscriptions.inc();
    }
    if (floor !== undefined) this.#options.hub.join(channel, this, floor);
  }

  /** Ends a subscription without a word to the client (the caller tells it). */
  #drop(channel: string): void {
    this.#options.hub.leave(channel, this);
    if (this.#subscriptions.delete(channel)) this.#options.metrics.subscriptions.dec();
  }

  revoke(channel: string, reason: UnsubscribeReason): void {
    if (this.#closed || !this.#subscriptions.has(channel)) return;
    this.#drop(channel);
    this.#reply(revokedFrame(channel, reason));
  }

  onClose(): void {
    if (this.#released) return;
    this.#released = true;
    this.#closed = true;
    this.#stopTimers();
    this.#outbound.close();
    this.#waiting = [];
    const { hub, users, metrics } = this.#options;
    for (const channel of this.#subscriptions) hub.leave(channel, this);
    hub.leave(this.#userChannel, this);
    users.detach(this);
    metrics.subscriptions.dec(this.#subscriptions.size);
    this.#subscriptions.clear();
    metrics.connections.dec();
  }
}

/** A circle subscribe under way. */
interface SetupRequest {
  ref: string;
  channel: string;
  circleId: string;
  cursor: string | undefined;
  setup: SubscriptionSetup;
}
