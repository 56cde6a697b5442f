import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Duplex } from "node:stream";

/** A frame the server sent, as read off the wire. */
export interface RawFrame {
  /** 0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xa pong. */
  readonly opcode: number;
  readonly payload: Buffer;
}

/**
 * A WebSocket client on a bare TCP socket, for what Node's built-in client hides: it can stop
 * reading (a slow consumer), it never answers pings (a silent peer), and it sees every frame as
 * the server sent it, close frames included.
 */
export interface RawSocket extends AsyncDisposable {
  readonly socket: Duplex;
  /** Frames received so far, in order. */
  readonly frames: RawFrame[];
  /** Sends one text frame, masked as a client must. */
  sendText(text: string): void;
  /** Stops reading from the network: the server's frames pile up in its buffers. */
  pause(): void;
  resume(): void;
  /** The first frame (received or to come) that `match` accepts. */
  waitFor(match: (frame: RawFrame) => boolean): Promise<RawFrame>;
  /** The server's close frame: its code and reason. */
  closeFrame(): Promise<{ code: number; reason: string }>;
  /** The text frames received so far, parsed as JSON. */
  messages(): unknown[];
}

/** Opens `baseUrl`'s realtime endpoint on a bare socket (JSON subprotocol unless told). */
export function openRawSocket(
  baseUrl: string,
  headers: Record<string, string> = {},
): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/v1/realtime`, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": randomBytes(16).toString("base64"),
        "sec-websocket-protocol": "kindred.v1.json",
        ...headers,
      },
    });
    req.on("upgrade", (_res, socket, head) => resolve(rawSocket(socket, head)));
    req.on("response", (res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    req.on("error", reject);
    req.end();
  });
}

function rawSocket(socket: Duplex, head: Buffer): RawSocket {
  const frames: RawFrame[] = [];
  const waiters: { match: (frame: RawFrame) => boolean; resolve: (frame: RawFrame) => void }[] = [];
  let pending = head;

  const received = (frame: RawFrame) => {
    frames.push(frame);
    for (const waiter of [...waiters]) {
      if (waiter.match(frame)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    }
  };
  /** Server frames are unmasked; every message is one frame (`ws` does not fragment). */
  const parse = () => {
    for (;;) {
      if (pending.length < 2) return;
      const opcode = (pending[0] as number) & 0x0f;
      let length = (pending[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (pending.length < 4) return;
        length = pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (pending.length < 10) return;
        length = Number(pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (pending.length < offset + length) return;
      const payload = pending.subarray(offset, offset + length);
      pending = pending.subarray(offset + length);
      received({ opcode, payload: Buffer.from(payload) });
    }
  };
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    parse();
  });
  socket.on("error", () => {});
  parse();

  const waitFor = (match: (frame: RawFrame) => boolean) => {
    const found = frames.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<RawFrame>((resolve) => waiters.push({ match, resolve }));
  };

  return {
    socket,
    frames,
    sendText(text) {
      const payload = Buffer.from(text);
      const mask = randomBytes(4);
      const header =
        payload.length < 126
          ? Buffer.from([0x81, 0x80 | payload.length])
          : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
      const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
      socket.write(Buffer.concat([header, mask, masked]));
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    waitFor,
    async closeFrame() {
      const frame = await waitFor((f) => f.opcode === 0x8);
      return {
        code: frame.payload.readUInt16BE(0),
        reason: frame.payload.subarray(2).toString("utf8"),
      };
    },
    messages: () =>
      frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString("utf8"))),
    async [Symbol.asyncDispose]() {
      socket.destroy();
    },
  };
}
