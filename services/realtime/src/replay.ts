import { contentStream } from "@kindred/event-catalog";
import { type EventNamespace, fromHeaders, streamIn } from "@kindred/events";
import type { Logger } from "@kindred/logging";
import type { NatsClient } from "@kindred/nats";
import type { ServerMessage, UnsubscribeReason } from "@kindred/proto/realtime/v1";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { PendingSubscriber, Publication } from "./channel-hub.ts";
import { type CircleFrame, type ContentRoute, contentRoutes } from "./content-fan-out.ts";

/**
 * Resume (ADR 18): a circle channel's cursor is a CONTENT stream sequence. A subscribe with a
 * cursor replays the channel's frames stored after it, then cuts over to live.
 */

/** The CONTENT stream as a resume reads it. */
export interface ContentHistory {
  /** The stream's first and last sequence now. */
  bounds(): Promise<{ first: number; last: number }>;
  /**
   * Hands the frames of `channel` stored in (`after`, `until`] to `onFrame`, in stream order,
   * until `onFrame` returns false. Events that do not decode are skipped, as live.
   */
  read(
    channel: string,
    after: number,
    until: number,
    onFrame: (frame: CircleFrame) => boolean,
  ): Promise<void>;
}

/** What a cursor resumes: the range to replay, or nothing (the client refetches instead). */
export type ResumePlan = { replay: true; after: number; until: number } | { replay: false };

/**
 * A cursor is replayable when it is a sequence the stream still holds the events after (its
 * retention keeps them), not beyond the stream's end (a cursor of an older stream), and at most
 * `maxEvents` behind: a client further behind refetches through the API, which is cheaper.
 */
export function resumePlan(
  cursor: string,
  bounds: { first: number; last: number },
  maxEvents: number,
): ResumePlan {
  if (!/^\d{1,15}$/.test(cursor)) return { replay: false };
  const after = Number(cursor);
  if (after > bounds.last) return { replay: false };
  // An empty stream that never held anything reports first_seq 0.
  if (bounds.first > 0 && after + 1 < bounds.first) return { replay: false };
  if (bounds.last - after > maxEvents) return { replay: false };
  return { replay: true, after, until: bounds.last };
}

const routes = new Map<string, ContentRoute>(contentRoutes.map((r) => [r.event.subject, r]));

/** Reads the CONTENT stream with a short-lived ordered consumer per resume. */
export class JetStreamContentHistory implements ContentHistory {
  readonly #nats: NatsClient;
  readonly #namespace: EventNamespace;
  readonly #logger: Logger;
  readonly #stream: string;

  constructor(options: { nats: NatsClient; namespace: EventNamespace; logger: Logger }) {
    this.#nats = options.nats;
    this.#namespace = options.namespace;
    this.#logger = options.logger;
    this.#stream = streamIn(options.namespace, contentStream.name);
  }

  async bounds(): Promise<{ first: number; last: number }> {
    const jsm = await this.#nats.jetstreamManager();
    const { state } = await jsm.streams.info(this.#stream);
    return { first: state.first_seq, last: state.last_seq };
  }

  async read(
    channel: string,
    after: number,
    until: number,
    onFrame: (frame: CircleFrame) => boolean,
  ): Promise<void> {
    if (until <= after) return;
    const consumer = await this.#nats.jetstream().consumers.get(this.#stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
    });
    try {
      let last = after;
      while (last < until) {
        const batch = await consumer.fetch({
          max_messages: Math.min(until - last, 500),
          expires: 5_000,
        });
        let received = 0;
        let done = false;
        for await (const msg of batch) {
          received += 1;
          last = msg.seq;
          if (msg.seq <= until) {
            const frame = this.#frameOf(msg.subject, msg.seq, msg.data, (name) =>
              msg.headers?.get(name),
            );
            if (frame?.channel === channel && !onFrame(frame)) return;
          }
          // Past the end of the range, or nothing more stored (the tail was deleted).
          if (msg.seq >= until || msg.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (done || received === 0) return;
      }
    } finally {
      await consumer.delete().catch(() => {});
    }
  }

  #frameOf(
    subject: string,
    sequence: number,
    payload: Uint8Array,
    header: (name: string) => string | undefined,
  ): CircleFrame | undefined {
    const prefix = this.#namespace.prefix === "" ? "" : `${this.#namespace.prefix}.`;
    const route = routes.get(subject.slice(prefix.length));
    if (route === undefined) return undefined;
    try {
      const metadata = fromHeaders((name) => header(name) || undefined);
      if (metadata.type !== route.event.name || metadata.version > route.event.version) {
        throw new Error(`event ${metadata.type} v${metadata.version} is not ${route.event.name}`);
      }
      return route.frameOf(payload, metadata.occurredAt, sequence);
    } catch (err) {
      this.#logger.warn({ subject, sequence, err }, "malformed event skipped by a replay");
      return undefined;
    }
  }
}

/**
 * A circle subscription being set up (membership check, then a resume): registered with the
 * hub, it holds the live frames of its channel once `buffer` was called, and notes a revocation
 * of its user meanwhile.
 */
export class SubscriptionSetup implements PendingSubscriber {
  readonly userId: string;
  /** Set when the user lost access while the setup ran. */
  revoked: UnsubscribeReason | undefined;
  /** More live frames arrived than `limit` while buffering: the resume gives up. */
  overflowed = false;
  readonly #limit: number;
  #buffer: { message: ServerMessage; publication: Publication }[] | undefined;

  constructor(userId: string, limit: number) {
    this.userId = userId;
    this.#limit = limit;
  }

  /** From now on, live frames of the channel are kept until `drain`. */
  buffer(): void {
    this.#buffer ??= [];
  }

  receive(message: ServerMessage, publication: Publication): void {
    if (this.#buffer === undefined) return;
    if (this.#buffer.length >= this.#limit) {
      this.overflowed = true;
      return;
    }
    this.#buffer.push({ message, publication });
  }

  revoke(reason: UnsubscribeReason): void {
    this.revoked = reason;
  }

  /** The live frames kept, in arrival order; stops buffering. */
  drain(): { message: ServerMessage; publication: Publication }[] {
    const buffered = this.#buffer ?? [];
    this.#buffer = undefined;
    return buffered;
  }
}
