import { createLogger } from "@kindred/logging";
import { CloseCode, ErrorCode } from "@kindred/proto/realtime/v1";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ChannelHub } from "../src/channel-hub.ts";
import { Connection } from "../src/connection.ts";
import { errorFrame } from "../src/frames.ts";
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
    send(frame: WireFrame) {
      socket.sent.push(frame);
    },
    close(code: number) {
      socket.closedWith = code;
    },
  } satisfies ClientSocket & Record<string, unknown>;
  return socket;
}

function connected(maxBufferedBytes = 1_024) {
  const registry = new Registry();
  const metrics = realtimeMetrics(registry);
  const hub = new ChannelHub();
  const socket = fakeSocket();
  const codec = codecs.get(jsonProtocol);
  if (codec === undefined) throw new Error("no JSON codec");
  const connection = new Connection(socket, codec, "0195F1D2-7C3A-7B2E-9A41-3F6C2D8E9B01", {
    hub,
    metrics,
    logger: createLogger({ service: "realtime-test", level: "silent" }),
    maxBufferedBytes,
    maxSubscriptions: 2,
    cursor: () => "7",
  });
  return { registry, hub, socket, connection };
}

const circleId = (n: number) => `0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c0${n}`;
const channel = (n: number) => `circle:${circleId(n)}`;
const subscribe = (n: number) => JSON.stringify({ subscribe: { channel: channel(n) } });

describe("connection", () => {
  it("closes a client that stays over its buffer limit with 4008 and sends it nothing more", async () => {
    const { registry, hub, socket, connection } = connected(1_024);
    connection.onFrame(subscribe(1));
    expect(socket.sent).toHaveLength(1);

    const frame = errorFrame("", ErrorCode.INTERNAL, "x".repeat(200));
    expect(hub.publish(channel(1), frame)).toBe(1);
    expect(socket.sent).toHaveLength(2);
    socket.bufferedAmount = 900;
    hub.publish(channel(1), frame);
    expect(socket.closedWith).toBe(CloseCode.SLOW_CONSUMER);
    expect(socket.closedWith).toBe(4008);
    hub.publish(channel(1), frame);
    expect(socket.sent).toHaveLength(2);
    expect(await registry.metrics()).toContain("kindred_realtime_slow_consumer_closes_total 1");

    connection.onClose();
    expect(hub.publish(channel(1), frame)).toBe(0);
    expect(await registry.metrics()).toContain("kindred_realtime_connections 0");
    expect(await registry.metrics()).toContain("kindred_realtime_subscriptions 0");
  });

  it("limits subscriptions, treats channel names case-insensitively, and unsubscribes", () => {
    const { socket, connection } = connected();
    connection.onFrame(subscribe(1));
    connection.onFrame(
      JSON.stringify({ subscribe: { channel: `circle:${circleId(1).toUpperCase()}` } }),
    );
    connection.onFrame(subscribe(2));
    connection.onFrame(subscribe(3));
    connection.onFrame(
      JSON.stringify({
        ref: "me",
        subscribe: { channel: "user:0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01" },
      }),
    );
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
    // The user's own channel counts against the limit too.
    expect(replies[4]).toMatchObject({ ref: "me", error: { code: "ERROR_CODE_LIMIT_EXCEEDED" } });

    connection.onFrame(JSON.stringify({ ref: "u", unsubscribe: { channel: channel(2) } }));
    expect(JSON.parse(socket.sent.at(-1) as string)).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "u",
      unsubscribed: { channel: channel(2), reason: "UNSUBSCRIBE_REASON_REQUESTED" },
    });
    expect([...connection.subscriptions]).toEqual([channel(1)]);

    // The user's own channel (the id from the token, whatever its case) is allowed.
    connection.onFrame(
      JSON.stringify({ subscribe: { channel: "user:0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01" } }),
    );
    expect(JSON.parse(socket.sent.at(-1) as string)).toMatchObject({
      subscribed: { channel: "user:0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01" },
    });
  });

  it("answers a subscribe with a cursor (resume is not built yet) with subscribed then outdated cursor", () => {
    const { socket, connection } = connected();
    connection.onFrame(JSON.stringify({ subscribe: { channel: channel(1), cursor: "3" } }));
    expect(socket.sent.map((f) => JSON.parse(f as string))).toEqual([
      { schemaVersion: "SCHEMA_VERSION_1", subscribed: { channel: channel(1), cursor: "7" } },
      { schemaVersion: "SCHEMA_VERSION_1", outdatedCursor: { channel: channel(1), cursor: "3" } },
    ]);
  });
});
