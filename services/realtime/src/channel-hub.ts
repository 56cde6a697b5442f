import type { ServerMessage, UnsubscribeReason } from "@kindred/proto/realtime/v1";
import { type Delivery, deliveryOf } from "./frames.ts";
import type { Codec } from "./protocol.ts";
import type { WireFrame } from "./transport.ts";

/** What the hub needs of a connection. */
export interface Subscriber {
  /** Lower-case. */
  readonly userId: string;
  readonly codec: Codec;
  /** Whether frames authored by `userId` must not reach this subscriber (a block, either way). */
  hides(userId: string): boolean;
  /**
   * Writes an encoded frame; `kind` labels the metric. `delivery` (of an event frame) lets a
   * slow consumer drop it with a gap notice, unless it is critical (SOS).
   */
  deliver(frame: WireFrame, kind: string, delivery?: Delivery): void;
  /**
   * Its user lost access to `channel` (left, removed, banned, archived): it leaves the channel
   * at once and tells the client with an `unsubscribed` frame giving `reason`.
   */
  revoke(channel: string, reason: UnsubscribeReason): void;
}

/** How a frame may reach each subscriber of its channel. */
export interface Publication {
  /**
   * The user whose content the frame carries: a subscriber who hides them (a block, either way)
   * gets `whenHidden` instead, or nothing. Unset for frames that carry nobody's content.
   */
  authorId?: string | undefined;
  /** What a subscriber who hides the author gets instead (an SOS without its words). */
  whenHidden?: ServerMessage | undefined;
  /**
   * The CONTENT stream sequence of the event: frames a resume replays carry it, so that the
   * cut-over from replay to live neither repeats nor skips one (ADR 18). Unset for the others.
   */
  sequence?: number | undefined;
}

/** The frame `subscriber` gets of a publication, if any. */
export function messageFor(
  subscriber: Pick<Subscriber, "hides">,
  message: ServerMessage,
  publication: Publication,
): ServerMessage | undefined {
  const { authorId, whenHidden } = publication;
  if (authorId === undefined || !subscriber.hides(authorId)) return message;
  return whenHidden;
}

/**
 * A subscription being set up (its membership check, then a replay): it sees the live
 * publications of its channel and the revocations of its user while it waits.
 */
export interface PendingSubscriber {
  /** Lower-case. */
  readonly userId: string;
  receive(message: ServerMessage, publication: Publication): void;
  revoke(reason: UnsubscribeReason): void;
}

/** Publications to a subscriber of a channel; at or below `floor` they are skipped. */
interface Membership {
  /** The last sequence a resume replayed to it: live frames up to it were sent already. */
  floor: number;
}

/** Which connections of this instance listen to which channel, and fan-out to them. */
export class ChannelHub {
  readonly #members = new Map<string, Map<Subscriber, Membership>>();
  readonly #pending = new Map<string, Set<PendingSubscriber>>();

  /**
   * Adds `subscriber` to `channel`. After a resume, `floor` is the last sequence replayed to it:
   * a live frame at or below it (a feed running late) is not sent again.
   */
  join(channel: string, subscriber: Subscriber, floor = 0): void {
    let members = this.#members.get(channel);
    if (members === undefined) {
      members = new Map();
      this.#members.set(channel, members);
    }
    members.set(subscriber, { floor });
  }

  leave(channel: string, subscriber: Subscriber): void {
    const members = this.#members.get(channel);
    if (members === undefined) return;
    members.delete(subscriber);
    if (members.size === 0) this.#members.delete(channel);
  }

  /** Registers a subscription being set up: it gets the channel's publications and revocations. */
  await(channel: string, pending: PendingSubscriber): void {
    let set = this.#pending.get(channel);
    if (set === undefined) {
      set = new Set();
      this.#pending.set(channel, set);
    }
    set.add(pending);
  }

  /** Ends what `await` started (the subscription was joined, refused or abandoned). */
  settle(channel: string, pending: PendingSubscriber): void {
    const set = this.#pending.get(channel);
    if (set === undefined) return;
    set.delete(pending);
    if (set.size === 0) this.#pending.delete(channel);
  }

  /**
   * Sends `message` to every subscriber of `channel`, encoded once per subprotocol and variant,
   * following `publication` (a string is the author id). Returns how many subscribers it was
   * handed to; subscriptions being set up get it too, not counted.
   */
  publish(channel: string, message: ServerMessage, publication: Publication | string = {}): number {
    const how = typeof publication === "string" ? { authorId: publication } : publication;
    for (const pending of this.#pending.get(channel) ?? []) pending.receive(message, how);
    const members = this.#members.get(channel);
    if (members === undefined) return 0;
    const encoded = new Map<ServerMessage, Map<Codec, WireFrame>>();
    const kind = message.frame.case ?? "unknown";
    let delivered = 0;
    for (const [subscriber, { floor }] of [...members]) {
      if (how.sequence !== undefined && how.sequence <= floor) continue;
      const variant = messageFor(subscriber, message, how);
      if (variant === undefined) continue;
      let frames = encoded.get(variant);
      if (frames === undefined) {
        frames = new Map();
        encoded.set(variant, frames);
      }
      let frame = frames.get(subscriber.codec);
      if (frame === undefined) {
        frame = subscriber.codec.encode(variant);
        frames.set(subscriber.codec, frame);
      }
      subscriber.deliver(frame, kind, deliveryOf(variant));
      delivered += 1;
    }
    return delivered;
  }

  /**
   * Ends the subscriptions to `channel` of `userId` (or of everyone), live or being set up:
   * access to it was taken away.
   */
  revoke(channel: string, reason: UnsubscribeReason, userId?: string): void {
    const matches = (id: string) => userId === undefined || id === userId.toLowerCase();
    for (const pending of [...(this.#pending.get(channel) ?? [])]) {
      if (matches(pending.userId)) pending.revoke(reason);
    }
    for (const subscriber of [...(this.#members.get(channel)?.keys() ?? [])]) {
      if (matches(subscriber.userId)) subscriber.revoke(channel, reason);
    }
  }
}
