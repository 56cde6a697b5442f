import type { DescMessage } from "@bufbuild/protobuf";
import {
  type EventNamespace,
  type EventType,
  type LiveDeliver,
  type LiveEvent,
  type LiveSubscription,
  type StreamSpec,
  subscribeLive,
} from "@kindred/events";
import type { Logger } from "@kindred/logging";
import type { NatsClient } from "@kindred/nats";

/** One event type realtime reads live from its producer's stream, and what it does with each. */
export interface Feed {
  /** The stream, without namespace: `CONTENT`. */
  readonly stream: string;
  readonly subject: string;
  subscribe(options: FeedOptions): LiveSubscription;
}

export interface FeedOptions {
  nats: NatsClient;
  namespace: EventNamespace;
  deliver: LiveDeliver;
  logger: Logger;
}

/** A feed of `event` from `stream`; `onEvent` runs once per event, in stream order. */
export function feed<Desc extends DescMessage>(
  stream: StreamSpec,
  event: EventType<Desc>,
  onEvent: (event: LiveEvent<Desc>) => void,
): Feed {
  return {
    stream: stream.name,
    subject: event.subject,
    subscribe: (options) => subscribeLive({ ...options, stream: stream.name, event, onEvent }),
  };
}

/**
 * Every feed of this instance, one live subscription each (NATS 2.9 gives a consumer one filter
 * subject). Each is a fan-out: every instance sees every event. Subscriptions to a stream that
 * does not exist yet keep retrying until its producer creates it.
 *
 * Each subscription keeps its own subject's order, but two subjects are read independently:
 * a post removed right after it was created could, in principle, reach clients before its
 * creation. Events that must stay in order across subjects (blocks and unblocks) carry their
 * stream sequence to their handler, which orders them; the others are far enough apart in
 * practice (a removal follows a read, a scan or a decision). One subscription per stream with a
 * wildcard filter (`content.>`, allowed on NATS 2.9) would keep stream order for all of them:
 * a change to `subscribeLive` in `@kindred/events`.
 */
export class LiveFeeds implements AsyncDisposable {
  readonly #feeds: readonly Feed[];
  #live: { feed: Feed; subscription: LiveSubscription }[] = [];

  constructor(feeds: readonly Feed[]) {
    this.#feeds = feeds;
  }

  /** Subscribes every feed, each from `options.deliver`. */
  start(options: FeedOptions): void {
    this.#live = this.#feeds.map((feed) => ({ feed, subscription: feed.subscribe(options) }));
  }

  /**
   * The highest stream sequence handed to the feeds of `stream` (or of where they started): a
   * lower bound of the stream's position as this instance sees it; 0 before any started.
   */
  lastSequence(stream: string): number {
    let last = 0;
    for (const { feed, subscription } of this.#live) {
      if (feed.stream === stream) last = Math.max(last, subscription.lastSequence);
    }
    return last;
  }

  /**
   * For a readiness check: throws naming the subjects of `stream` not read yet (and, given,
   * what that means); otherwise the last sequence of each subject.
   */
  status(
    stream: string,
    consequence?: string,
  ): { lastSequence: number; subjects: Record<string, number> } {
    const ofStream = this.#feeds.filter((feed) => feed.stream === stream);
    const pending = ofStream.filter(
      (feed) => this.#live.find((live) => live.feed === feed)?.subscription.established !== true,
    );
    if (pending.length > 0) {
      const subjects = pending.map((feed) => feed.subject).join(", ");
      throw new Error(`not reading ${subjects} yet${consequence ? `: ${consequence}` : ""}`);
    }
    const subjects: Record<string, number> = {};
    for (const { feed, subscription } of this.#live) {
      if (feed.stream === stream) subjects[feed.subject] = subscription.lastSequence;
    }
    return { lastSequence: this.lastSequence(stream), subjects };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const live = this.#live;
    this.#live = [];
    await Promise.all(live.map(({ subscription }) => subscription[Symbol.asyncDispose]()));
  }
}
