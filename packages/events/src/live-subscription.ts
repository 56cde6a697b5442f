import { setTimeout as sleep } from "node:timers/promises";
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import type { NatsClient } from "@kindred/nats";
import { backoffDelay, type Logger } from "@kindred/resilience";
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { ReceivedEvent } from "./consumer.ts";
import type { EventType } from "./event-type.ts";
import { fromHeaders } from "./metadata.ts";
import { type EventNamespace, noNamespace, streamIn, subjectIn } from "./namespace.ts";

/** An event as a live subscriber sees it: with its position in the stream. */
export type LiveEvent<Desc extends DescMessage> = ReceivedEvent<Desc> & {
  /** The JetStream stream sequence: increasing, a cursor to resume after. */
  sequence: number;
};

export type LiveDeliver = "new" | { afterSequence: number } | { sinceTime: Date };

export interface LiveSubscriptionOptions<Desc extends DescMessage> {
  nats: NatsClient;
  /** The producer's stream, without namespace: `CONTENT`. */
  stream: string;
  event: EventType<Desc>;
  namespace?: EventNamespace;
  /**
   * Where to start: `"new"`, the events stored after the subscription is established; those
   * after a sequence; or those stored since a time (a replay of recent history, then live).
   */
  deliver: LiveDeliver;
  /** Called once per event, in stream order, one at a time; a throw is logged and skipped. */
  onEvent(event: LiveEvent<Desc>): void | Promise<void>;
  logger: Logger;
  /** Delays between attempts to establish the subscription: initial, doubling, capped. */
  retry?: { initialMs: number; maxMs: number };
}

export interface LiveSubscription extends AsyncDisposable {
  /** Resolves once the subscription is established; rejects if it is disposed first. */
  ready(): Promise<void>;
  /** Whether the subscription is established now (for readiness checks). */
  readonly established: boolean;
  /** The sequence of the last event handed to `onEvent` (or the one before the start). */
  readonly lastSequence: number;
}

/**
 * Sees every event of one type, as a fan-out: each subscriber (each realtime instance) gets all
 * of them, with no durable consumer, no ack and no inbox. It reads through a JetStream ordered
 * consumer, which notices any gap in delivery and recreates itself after the last sequence
 * seen, so nothing is skipped or repeated — also across NATS restarts. It can be created while
 * NATS or the stream is unavailable: it keeps trying, with backoff, until both are there.
 * An event it cannot decode is logged and skipped; it never stops the subscription.
 */
export function subscribeLive<Desc extends DescMessage>(
  options: LiveSubscriptionOptions<Desc>,
): LiveSubscription {
  return new OrderedLiveSubscription(options);
}

class OrderedLiveSubscription<Desc extends DescMessage> implements LiveSubscription {
  readonly #options: LiveSubscriptionOptions<Desc>;
  readonly #stop = new AbortController();
  readonly #ready: Promise<void>;
  #resolveReady: () => void = () => {};
  #rejectReady: (err: Error) => void = () => {};
  /** Sequence of the last event handled; undefined until a "new" or time start is resolved. */
  #cursor: number | undefined;
  #established = false;
  #messages: ConsumerMessages | undefined;
  readonly #loop: Promise<void>;

  constructor(options: LiveSubscriptionOptions<Desc>) {
    this.#options = options;
    const { deliver } = options;
    this.#cursor =
      typeof deliver === "object" && "afterSequence" in deliver ? deliver.afterSequence : undefined;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // A caller that never awaits ready() must not see an unhandled rejection on dispose.
    this.#ready.catch(() => {});
    this.#loop = this.#run();
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  get established(): boolean {
    return this.#established;
  }

  get lastSequence(): number {
    return this.#cursor ?? 0;
  }

  get #where() {
    const ns = this.#options.namespace ?? noNamespace;
    return {
      stream: streamIn(ns, this.#options.stream),
      subject: subjectIn(ns, this.#options.event.subject),
    };
  }

  async #run(): Promise<void> {
    const { logger, nats } = this.#options;
    const retry = this.#options.retry ?? { initialMs: 200, maxMs: 5_000 };
    const signal = this.#stop.signal;
    const { stream, subject } = this.#where;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await nats.connected(signal);
        const messages = await this.#open(stream, subject);
        this.#messages = messages;
        if (signal.aborted) break;
        this.#established = true;
        attempt = 0;
        this.#resolveReady();
        logger.info({ stream, subject, after: this.#cursor }, "live subscription established");
        for await (const msg of messages) {
          await this.#deliver(msg);
        }
        // The ordered consumer gave up recreating itself (e.g. the stream was gone for long).
        if (!signal.aborted) throw new Error("the ordered consumer stopped");
      } catch (err) {
        if (signal.aborted) break;
        const delay = backoffDelay(attempt, retry.initialMs, retry.maxMs);
        if (attempt < 3 || attempt % 10 === 0) {
          logger.warn(
            { stream, subject, attempt, retryInMs: delay, err: String(err) },
            "live subscription not established; retrying",
          );
        }
        await sleep(delay, undefined, { signal }).catch(() => {});
      } finally {
        this.#established = false;
        this.#messages?.stop();
        this.#messages = undefined;
      }
    }
    this.#rejectReady(
      new Error(`live subscription to ${subject} closed before it was established`),
    );
  }

  async #open(stream: string, subject: string): Promise<ConsumerMessages> {
    const { nats } = this.#options;
    // Starting from an explicit sequence (not DeliverPolicy.New or StartTime) also gives the
    // ordered consumer its cursor, so that when it recreates itself before any event arrived it
    // does not start over from the stream's first event.
    this.#cursor ??= await this.#startCursor(stream, subject);
    const consumer = await nats.jetstream().consumers.get(stream, {
      // A string becomes `filter_subject`: NATS 2.9 allows one filter subject per consumer.
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#cursor + 1,
    });
    // Heartbeats every 5 s: a consumer lost with a NATS restart is noticed and recreated soon.
    return consumer.consume({ max_messages: 256, expires: 10_000 });
  }

  /** The sequence just before the first event to deliver, for "new" or "since a time". */
  async #startCursor(stream: string, subject: string): Promise<number> {
    const jsm = await this.#options.nats.jetstreamManager();
    const { deliver } = this.#options;
    if (deliver === "new") return (await jsm.streams.info(stream)).state.last_seq;
    if (!("sinceTime" in deliver)) return deliver.afterSequence;
    // NATS 2.9 cannot look a sequence up by time, but a consumer created with StartTime knows
    // it: its `delivered.stream_seq` is the sequence before its first event. A short-lived one.
    const probe = await jsm.consumers.add(stream, {
      filter_subject: subject,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: deliver.sinceTime.toISOString(),
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(60_000),
    });
    await jsm.consumers.delete(stream, probe.name).catch(() => {});
    return probe.delivered.stream_seq;
  }

  async #deliver(msg: JsMsg): Promise<void> {
    const { event, logger } = this.#options;
    const sequence = msg.seq;
    this.#cursor = sequence;
    let received: LiveEvent<Desc>;
    try {
      const metadata = fromHeaders((name) => msg.headers?.get(name) || undefined);
      if (metadata.type !== event.name) {
        throw new Error(`event type ${metadata.type} is not ${event.name}`);
      }
      if (metadata.version > event.version) {
        throw new Error(
          `event ${metadata.type} v${metadata.version} is newer than this subscriber knows (v${event.version})`,
        );
      }
      const message: MessageShape<Desc> = fromBinary(event.schema, msg.data);
      received = {
        metadata,
        message,
        subject: msg.subject,
        deliveryCount: msg.info.deliveryCount,
        sequence,
      };
    } catch (err) {
      logger.warn(
        { subject: msg.subject, sequence, eventId: msg.headers?.get("Kindred-Event-Id"), err },
        "malformed event skipped by live subscription",
      );
      return;
    }
    try {
      await this.#options.onEvent(received);
    } catch (err) {
      logger.error(
        { subject: msg.subject, sequence, eventId: received.metadata.id, err },
        "live event handler failed; event skipped",
      );
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#messages?.stop();
    await this.#loop;
  }
}
