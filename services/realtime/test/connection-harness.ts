import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "@kindred/logging";
import { Registry } from "prom-client";
import { ChannelHub } from "../src/channel-hub.ts";
import type { ConnectionLimits } from "../src/config.ts";
import { ConnectedUsers } from "../src/connected-users.ts";
import { Connection } from "../src/connection.ts";
import { realtimeMetrics } from "../src/metrics.ts";
import { codecs, jsonProtocol } from "../src/protocol.ts";
import type { ClientIdentity, Credentials, TokenVerifier } from "../src/token-verifier.ts";
import type { ClientSocket, WireFrame } from "../src/transport.ts";
import { WebSocketEndpoint } from "../src/websocket-endpoint.ts";
import { WsTransport } from "../src/ws-transport.ts";
import { FakeMembership, fakeVerifier } from "./helpers.ts";

/**
 * A socket whose network the test plays: frames handed to it wait (their write callbacks
 * pending, `bufferedAmount` as the test sets it) until `flush`, as for a client that stopped
 * reading and then reads again.
 */
export function fakeSocket() {
  const socket = {
    protocol: jsonProtocol,
    bufferedAmount: 0,
    sent: [] as WireFrame[],
    written: [] as (() => void)[],
    closedWith: undefined as number | undefined,
    closeReason: undefined as string | undefined,
    send(frame: WireFrame, written?: () => void) {
      socket.sent.push(frame);
      if (written !== undefined) socket.written.push(written);
    },
    close(code: number, reason: string) {
      if (socket.closedWith !== undefined) return;
      socket.closedWith = code;
      socket.closeReason = reason;
    },
    /** The client read everything: the buffer empties and every write callback runs. */
    flush() {
      socket.bufferedAmount = 0;
      for (const written of socket.written.splice(0)) written();
    },
    /** The frames sent so far, parsed; `clear` forgets them. */
    messages(clear = false): Record<string, unknown>[] {
      const messages = socket.sent.map((f) => JSON.parse(f as string) as Record<string, unknown>);
      if (clear) socket.sent.length = 0;
      return messages;
    },
  } satisfies ClientSocket & Record<string, unknown>;
  return socket;
}

export type FakeSocket = ReturnType<typeof fakeSocket>;

/** Tokens the test declares, with whom each belongs to; any other token is refused. */
export class TableVerifier implements TokenVerifier {
  readonly tokens = new Map<string, ClientIdentity>();
  /** Makes `verify` wait for it (a slow key fetch). */
  gate: Promise<unknown> | undefined;

  add(token: string, identity: ClientIdentity): this {
    this.tokens.set(token, identity);
    return this;
  }

  async verify(token: string): Promise<ClientIdentity> {
    await this.gate;
    const identity = this.tokens.get(token);
    if (identity === undefined) throw new Error("invalid token");
    return identity;
  }
}

export interface HarnessOptions {
  verifier?: TokenVerifier;
  limits?: Partial<ConnectionLimits>;
  maxBufferedBytes?: number;
  /** Shared between the connections of one test (a user's several devices). */
  users?: ConnectedUsers;
  hub?: ChannelHub;
  registry?: Registry;
}

/**
 * Builds connections on fake sockets, all sharing one hub, registry and metrics: `open` as an
 * upgrade with a verified header would, or without credentials as a browser's upgrade.
 */
export function connectionHarness(options: HarnessOptions = {}) {
  const registry = options.registry ?? new Registry();
  const metrics = realtimeMetrics(registry);
  const hub = options.hub ?? new ChannelHub();
  const users = options.users ?? new ConnectedUsers();
  const codec = codecs.get(jsonProtocol);
  if (codec === undefined) throw new Error("no JSON codec");
  const connections: Connection[] = [];
  /** A connection on `socket`, as the endpoint builds one. */
  const connect = (socket: ClientSocket, credentials?: Credentials) => {
    const connection = new Connection(socket, codec, credentials, {
      hub,
      users,
      metrics,
      logger: createLogger({ service: "realtime-test", level: "silent" }),
      maxBufferedBytes: options.maxBufferedBytes ?? 1_048_576,
      maxSubscriptions: 10,
      cursor: () => "0",
      access: new FakeMembership(),
      history: {
        bounds: async () => ({ first: 0, last: 0 }),
        read: async () => {},
      },
      maxReplayEvents: 0,
      verifier: options.verifier,
      limits: options.limits,
    });
    connections.push(connection);
    return connection;
  };
  /** A connection on a fake socket. */
  const open = (credentials?: Credentials) => {
    const socket = fakeSocket();
    return { socket, connection: connect(socket, credentials) };
  };
  /** The value of one sample of the registry's text output, or undefined. */
  const sample = async (pattern: RegExp) => {
    const match = pattern.exec(await registry.metrics());
    return match?.[1] === undefined ? undefined : Number(match[1]);
  };
  return { registry, metrics, hub, users, codec, connections, connect, open, sample };
}

/**
 * The real transport and endpoint on an HTTP server (port 0), building connections as the
 * harness does: sockets of real clients, frames the test publishes to `hub` itself.
 */
export async function realtimeServer(
  options: HarnessOptions & { maxFrameBytes?: number; pingIntervalMs?: number } = {},
) {
  const harness = connectionHarness({ verifier: fakeVerifier, ...options });
  const logger = createLogger({ service: "realtime-test", level: "silent" });
  const transport = new WsTransport({
    maxFrameBytes: options.maxFrameBytes ?? 65_536,
    pingIntervalMs: options.pingIntervalMs ?? 0,
    logger,
  });
  const endpoint = new WebSocketEndpoint({
    transport,
    verifier: options.verifier ?? fakeVerifier,
    logger,
    connect: (socket, _codec, credentials) => harness.connect(socket, credentials),
  });
  const server = createServer(endpoint.fallback);
  server.on("upgrade", endpoint.upgrade);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    ...harness,
    url: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      await endpoint.shutdown(AbortSignal.timeout(1_000));
      server.close();
      server.closeAllConnections();
    },
  };
}
