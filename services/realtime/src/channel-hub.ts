import type { ServerMessage } from "@kindred/proto/realtime/v1";
import type { Codec } from "./protocol.ts";
import type { WireFrame } from "./transport.ts";

/** What the hub needs of a connection. */
export interface Subscriber {
  readonly codec: Codec;
  /** Whether frames authored by `userId` must not reach this subscriber (a block, either way). */
  hides(userId: string): boolean;
  /** Writes an encoded frame (or closes a slow consumer); `kind` labels the metric. */
  deliver(frame: WireFrame, kind: string): void;
}

/** Which connections of this instance listen to which channel, and fan-out to them. */
export class ChannelHub {
  readonly #members = new Map<string, Set<Subscriber>>();

  join(channel: string, subscriber: Subscriber): void {
    let members = this.#members.get(channel);
    if (members === undefined) {
      members = new Set();
      this.#members.set(channel, members);
    }
    members.add(subscriber);
  }

  leave(channel: string, subscriber: Subscriber): void {
    const members = this.#members.get(channel);
    if (members === undefined) return;
    members.delete(subscriber);
    if (members.size === 0) this.#members.delete(channel);
  }

  /**
   * Sends `message` to every subscriber of `channel`, encoded once per subprotocol, except to
   * those that hide `authorId` (set for frames that carry a user's content). Returns how many
   * subscribers it was handed to.
   */
  publish(channel: string, message: ServerMessage, authorId?: string): number {
    const members = this.#members.get(channel);
    if (members === undefined) return 0;
    const encoded = new Map<Codec, WireFrame>();
    const kind = message.frame.case ?? "unknown";
    let delivered = 0;
    for (const subscriber of [...members]) {
      if (authorId !== undefined && subscriber.hides(authorId)) continue;
      let frame = encoded.get(subscriber.codec);
      if (frame === undefined) {
        frame = subscriber.codec.encode(message);
        encoded.set(subscriber.codec, frame);
      }
      subscriber.deliver(frame, kind);
      delivered += 1;
    }
    return delivered;
  }
}
