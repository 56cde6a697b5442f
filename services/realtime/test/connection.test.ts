import { createLogger } from "@kindred/logging";
import { CloseCode, ErrorCode } from "@kindred/proto/realtime/v1";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ChannelHub } from "../src/channel-hub.ts";
import { ConnectedUsers } from "../src/connected-users.ts";
import { Connection } from "../src/connection.ts";
import { errorFrame, eventFrame } from "../src/frames.ts";
import { realtimeMetrics } from "../src/metrics.ts";
import { codecs, jsonProtocol } from "../src/protocol.ts";
import type { ClientSocket, WireFrame } from "../src/transport.ts";

/** A socket whose send buffer the test controls, as a client that stopped reading would fill. */
function fakeSocket() {
  const socket = {
    protocol: jsonProtocol,
    bufferedAmount: 0,
    sent: [] as WireFrame[],
    closedWith: undefined as number | undefined,
    closeReason: undefined as string | undefined,
    send(frame: WireFrame) {
      socket.sent.push(frame);
    },
    close(code: number, reason: string) {
      socket.closedWith = code;
      socket.closeReason = reason;
    },
  } satisfies ClientSocket & Record<string, unknown>;
  return socket;
}

const me = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const other = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const myChannel = `user:${me}`;

function connected(maxBufferedBytes = 1_024) {
  const registry = new Registry();
  const metrics = realtimeMetrics(registry);
  const hub = new ChannelHub();
  const users = new ConnectedUsers();
  const socket = fakeSocket();
  const codec = codecs.get(jsonProtocol);
  if (codec === undefined) throw new Error("no JSON codec");
  const connection = new Connection(
    socket,
    codec,
    // Ids from a token are matched whatever their case.
    { userId: me.toUpperCase(), sessionId: "0195F1D2-7C3A-7B2E-9A41-3F6C2D8E9A01" },
    {
      hub,
      users,
      metrics,
      logger: createLogger({ service: "realtime-test", level: "silent" }),
      maxBufferedBytes,
      maxSubscriptions: 2,
      cursor: (channel) => (channel.startsWith("user:") ? "3" : "7"),
      // Every user is a member of every circle; the content stream is empty.
      access: { admit: () => ({ allowed: true }), forget: () => {} },
      history: { bounds: async () => ({ first: 0, last: 0 }), read: async () => {} },
      maxReplayEvents: 10_000,
    },
  );
  return { registry, hub, users, socket, connection };
}

/** A post by `authorId` on `channel`, as the content fan-out sends it. */
const postBy = (channel: string, authorId: string) =>
  eventFrame(channel, "9", new Date(), {
    case: "postCreated",
    value: { id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01", authorId },
  });

const circleId = (n: number) => `0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c0${n}`;
const channel = (n: number) => `circle:${circleId(n)}`;
const subscribe = (n: number) => JSON.stringify({ subscribe: { channel: channel(n) } });

describe("connection", () => {
  it("limits subscriptions, treats channel names case-insensitively, and unsubscribes", () => {
    const { socket, connection } = connected();
    connection.onFrame(subscribe(1));
    connection.onFrame(
      JSON.stringify({ subscribe: { channel: `circle:${circleId(1).toUpperCase()}` } }),
    );
    connection.onFrame(subscribe(2));
    connection.onFrame(subscribe(3));
    connection.onFrame(JSON.stringify({ ref: "me", subscribe: { channel: myChannel } }));
    const replies = socket.sent.map((f) => JSON.parse(f as string));
    expect(replies.slice(0, 4)).toEqual([
      { schemaVersion: "SCHEMA_VERSION_1", subscribed: { channel: channel(1), cursor: "7" } },
      { schemaVersion: "SCHEMA_VERSION_1", subscribed: { channel: channel(1), cursor: "7" } },
      { schemaVersion: "SCHEMA_VERSION_1", subscribed: { channel: channel(2), cursor: "7" } },
      {
        schemaVersion: "SCHEMA_VERSION_1",
        error: {
          code: "ERROR_CODE_LIMIT_EXCEEDED",
          message: "at most 2 subscriptions per connection",
          channel: channel(3),
        },
      },
    ]);
    // The user's own channel is always subscribed and does not count against the limit.
    expect(replies[4]).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "me",
      subscribed: { channel: myChannel, cursor: "3" },
    });

    connection.onFrame(JSON.stringify({ ref: "u", unsubscribe: { channel: channel(2) } }));
    expect(JSON.parse(socket.sent.at(-1) as string)).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "u",
      unsubscribed: { channel: channel(2), reason: "UNSUBSCRIBE_REASON_REQUESTED" },
    });
    expect([...connection.subscriptions]).toEqual([channel(1)]);
  });

  it("is in its own user channel from the start until it closes, and cannot leave it", async () => {
    const { registry, hub, users, socket, connection } = connected();
    const outcome = eventFrame(myChannel, "4", new Date("2026-11-25T12:00:00Z"), {
      case: "moderationOutcome",
      value: { decisionId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9e01" },
    });
    expect(hub.publish(myChannel, outcome)).toBe(1);
    expect(JSON.parse(socket.sent[0] as string)).toMatchObject({
      event: { channel: myChannel, cursor: "4", moderationOutcome: {} },
    });
    expect(hub.publish(`user:${other}`, outcome)).toBe(0);

    connection.onFrame(JSON.stringify({ ref: "u", unsubscribe: { channel: myChannel } }));
    expect(JSON.parse(socket.sent.at(-1) as string)).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "u",
      error: {
        code: "ERROR_CODE_INVALID_MESSAGE",
        message: "your own user channel stays subscribed as long as the connection is open",
        channel: myChannel,
      },
    });
    expect(hub.publish(myChannel, outcome)).toBe(1);
    connection.onFrame(JSON.stringify({ ref: "o", subscribe: { channel: `user:${other}` } }));
    expect(JSON.parse(socket.sent.at(-1) as string)).toMatchObject({
      ref: "o",
      error: { code: "ERROR_CODE_PERMISSION_DENIED" },
    });
    expect(await registry.metrics()).toContain("kindred_realtime_subscriptions 0");

    expect(users.ofUser(me)).toEqual([connection]);
    expect(users.ofSession("0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a01")).toEqual([connection]);
    connection.onClose();
    expect(hub.publish(myChannel, outcome)).toBe(0);
    expect(users.ofUser(me)).toEqual([]);
    expect(users.ofSession("0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a01")).toEqual([]);
    expect(users.size).toBe(0);
  });

  it("withholds frames carrying the content of a user blocked either way", () => {
    const { hub, users, socket, connection } = connected();
    connection.onFrame(subscribe(1));
    socket.sent.length = 0;

    expect(hub.publish(channel(1), postBy(channel(1), other), other)).toBe(1);
    users.applyBlock(other, me, true, 10);
    expect(connection.hides(other.toUpperCase())).toBe(true);
    expect(hub.publish(channel(1), postBy(channel(1), other), other)).toBe(0);
    // Their own posts, and frames with no author (removals), still arrive.
    expect(hub.publish(channel(1), postBy(channel(1), me), me)).toBe(1);
    expect(hub.publish(channel(1), postBy(channel(1), other))).toBe(1);
    users.applyBlock(other, me, false, 11);
    expect(hub.publish(channel(1), postBy(channel(1), other), other)).toBe(1);
    expect(socket.sent).toHaveLength(4);
  });

  it("closes from the server side once, counting the reason, and sends nothing after", async () => {
    const { registry, hub, socket, connection } = connected();
    connection.close(CloseCode.SESSION_REVOKED, "session revoked", "session_revoked");
    connection.close(CloseCode.SESSION_REVOKED, "account restricted", "account_restricted");
    expect(socket.closedWith).toBe(4003);
    expect(socket.closeReason).toBe("session revoked");
    expect(hub.publish(myChannel, errorFrame("", ErrorCode.INTERNAL, "x"))).toBe(1);
    expect(socket.sent).toHaveLength(0);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(
      /^kindred_realtime_forced_closes_total\{reason="session_revoked"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^kindred_realtime_forced_closes_total\{reason="account_restricted"\} 0$/m,
    );
  });

  it("answers a subscribe with a cursor beyond the stream's end with subscribed then outdated cursor", async () => {
    const { socket, connection } = connected();
    connection.onFrame(JSON.stringify({ subscribe: { channel: channel(1), cursor: "3" } }));
    // The stream's bounds are read before the answer (test/resume.test.ts replays).
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.sent.map((f) => JSON.parse(f as string))).toEqual([
      { schemaVersion: "SCHEMA_VERSION_1", subscribed: { channel: channel(1), cursor: "7" } },
      { schemaVersion: "SCHEMA_VERSION_1", outdatedCursor: { channel: channel(1), cursor: "3" } },
    ]);
  });
});
