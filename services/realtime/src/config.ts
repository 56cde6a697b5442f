import { authVars, toAuthSettings } from "@kindred/auth";
import { env, loadServiceConfig } from "@kindred/config";

/** The limits and timeouts of one connection (`Connection`), from config. */
export interface ConnectionLimits {
  /** Bytes in the socket's send buffer beyond which non-critical frames are dropped. */
  maxBufferedBytes: number;
  /** Frames handed to the socket and not yet written beyond which the same happens. */
  maxQueuedFrames: number;
  /** How long a socket may stay over those limits before it is closed (4008). */
  slowClientGraceMs: number;
  /** How long an unauthenticated socket has to send its auth frame (4000). */
  authTimeoutMs: number;
  /** Nothing received (message or pong) for this long closes the socket (4010); 0: never. */
  idleTimeoutMs: number;
  /** Authenticated connections of one user on this instance (4009 beyond). */
  maxConnectionsPerUser: number;
  /** Client messages per second, on average. */
  messagesPerSecond: number;
  /** Client messages at once. */
  messageBurst: number;
  /** How long a client may keep sending over its rate before it is closed (4029). */
  floodCloseMs: number;
}

/** The defaults of the configuration, also used by connections that tests build by hand. */
export const connectionDefaults: Readonly<ConnectionLimits> = Object.freeze({
  maxBufferedBytes: 1_048_576,
  maxQueuedFrames: 1_000,
  slowClientGraceMs: 10_000,
  authTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxConnectionsPerUser: 10,
  messagesPerSecond: 20,
  messageBurst: 40,
  floodCloseMs: 5_000,
});

export function loadRealtimeConfig(vars: Readonly<Record<string, string | undefined>>) {
  const config = loadServiceConfig(
    {
      defaults: { name: "realtime", port: 8085, healthPort: 9085 },
      uses: { nats: true },
      extra: (kindredEnv) => ({
        ...authVars(kindredEnv),
        /** Prefix of the streams and subjects read (tests, shared servers); empty in production. */
        EVENTS_NAMESPACE: env.matching(/^[a-z][a-z0-9_]*$/, "lowercase letters, digits and _", {
          default: "",
        }),
        /**
         * Bytes waiting in one socket's send buffer beyond which its non-critical frames are
         * dropped (with a gap notice); SOS frames are sent anyway.
         */
        REALTIME_MAX_BUFFERED_BYTES: env.int({
          min: 1_024,
          max: 64 * 1_048_576,
          default: connectionDefaults.maxBufferedBytes,
        }),
        /** Frames waiting to be written to one socket beyond which the same happens. */
        REALTIME_MAX_QUEUED_FRAMES: env.int({
          min: 1,
          max: 1_000_000,
          default: connectionDefaults.maxQueuedFrames,
        }),
        /** How long a socket may stay over those limits before it is closed (4008). */
        REALTIME_SLOW_CLIENT_GRACE_MS: env.millis({
          default: connectionDefaults.slowClientGraceMs,
          max: 600_000,
        }),
        /** Largest client frame accepted; a bigger one closes the socket with 1009. */
        REALTIME_MAX_FRAME_BYTES: env.int({ min: 1_024, max: 1_048_576, default: 65_536 }),
        /** Subscriptions one connection may hold. */
        REALTIME_MAX_SUBSCRIPTIONS: env.int({ min: 1, max: 10_000, default: 100 }),
        /** A WebSocket ping every interval (0: none); its pongs count as the client's heartbeat. */
        REALTIME_PING_INTERVAL_MS: env.millis({ default: 25_000, max: 600_000 }),
        /** A socket that sends nothing and answers no ping for this long is closed (4010); 0: never. */
        REALTIME_IDLE_TIMEOUT_MS: env.millis({
          default: connectionDefaults.idleTimeoutMs,
          max: 3_600_000,
        }),
        /** How long an upgrade without a token has to send its auth frame (else 4000). */
        REALTIME_AUTH_TIMEOUT_MS: env.int({
          min: 100,
          max: 60_000,
          default: connectionDefaults.authTimeoutMs,
        }),
        /** Open connections one user may have on one instance; one more is closed (4009). */
        REALTIME_MAX_CONNECTIONS_PER_USER: env.int({
          min: 1,
          max: 1_000,
          default: connectionDefaults.maxConnectionsPerUser,
        }),
        /** Client messages per second per connection, on average (a token bucket). */
        REALTIME_MAX_MESSAGES_PER_SECOND: env.int({
          min: 1,
          max: 10_000,
          default: connectionDefaults.messagesPerSecond,
        }),
        /** Client messages a connection may send at once (the bucket's size). */
        REALTIME_MESSAGE_BURST: env.int({
          min: 1,
          max: 100_000,
          default: connectionDefaults.messageBurst,
        }),
        /** How long a client may keep sending over its rate before it is closed (4029). */
        REALTIME_RATE_LIMIT_CLOSE_MS: env.millis({
          default: connectionDefaults.floodCloseMs,
          max: 600_000,
        }),
        /** The circles service, asked (GetCircle) whether a subscriber is a member (ADR 18). */
        CIRCLES_URL: env.url(["http:", "https:"], { default: "http://127.0.0.1:8082" }),
        /** Deadline of that question; past it the subscribe is refused with "try again". */
        REALTIME_MEMBERSHIP_TIMEOUT_MS: env.millis({ default: 2_000, max: 60_000 }),
        /** How long a "member" answer is reused for the same user and circle; 0: never. */
        REALTIME_MEMBERSHIP_CACHE_MS: env.millis({ default: 30_000, max: 600_000 }),
        /** Most CONTENT events a resume reads; an older cursor gets `outdated_cursor`. */
        REALTIME_REPLAY_MAX_EVENTS: env.int({ min: 0, max: 1_000_000, default: 10_000 }),
      }),
    },
    vars,
  );
  return { ...config, auth: toAuthSettings(config.extra, config.server.kindredEnv) };
}

export type RealtimeConfig = ReturnType<typeof loadRealtimeConfig>;

/** The per-connection limits of a loaded config. */
export function connectionLimits(config: RealtimeConfig): ConnectionLimits {
  const extra = config.extra;
  return {
    maxBufferedBytes: extra.REALTIME_MAX_BUFFERED_BYTES,
    maxQueuedFrames: extra.REALTIME_MAX_QUEUED_FRAMES,
    slowClientGraceMs: extra.REALTIME_SLOW_CLIENT_GRACE_MS,
    authTimeoutMs: extra.REALTIME_AUTH_TIMEOUT_MS,
    idleTimeoutMs: extra.REALTIME_IDLE_TIMEOUT_MS,
    maxConnectionsPerUser: extra.REALTIME_MAX_CONNECTIONS_PER_USER,
    messagesPerSecond: extra.REALTIME_MAX_MESSAGES_PER_SECOND,
    messageBurst: extra.REALTIME_MESSAGE_BURST,
    floodCloseMs: extra.REALTIME_RATE_LIMIT_CLOSE_MS,
  };
}
