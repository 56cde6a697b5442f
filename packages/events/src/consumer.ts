import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import type { Database } from "@kindred/database";
import type { NatsClient } from "@kindred/nats";
import { backoffDelay, type Logger } from "@kindred/resilience";
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { sql, type Transaction } from "kysely";
import { Counter, type Registry } from "prom-client";
import { storeDeadLetter } from "./dead-letters.ts";
import type { EventType } from "./event-type.ts";
import {
  type EventHeaders,
  type EventMetadata,
  fromHeaders,
  headerNames,
  MalformedEventError,
} from "./metadata.ts";
import { type EventNamespace, noNamespace, streamIn, subjectIn } from "./namespace.ts";

/** An event as a handler sees it. */
export interface ReceivedEvent<Desc extends DescMessage> {
  metadata: EventMetadata;
  message: MessageShape<Desc>;
  subject: string;
  /** 1 on first delivery. */
  deliveryCount: number;
}

// biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
export type HandlerTransaction = Transaction<any>;

export interface ConsumerSpec<Desc extends DescMessage> {
  /** Durable consumer name, unique per consuming service and purpose: `moderation-post-created`. */
  name: string;
  /** The producer's stream. */
  stream: string;
  event: EventType<Desc>;
  /**
   * Applies the event. With a database, runs inside the transaction that records the event id in
   * the inbox, so the effect happens exactly once however often the event is delivered.
   */
  handle: (event: ReceivedEvent<Desc>, trx: HandlerTransaction) => Promise<void>;
}

export interface ConsumerOptions {
  /** The consuming service's database (inbox and dead letters). */
  // biome-ignore lint/suspicious/noExplicitAny: any service database that has the event tables
  db: Database<any>;
  nats: NatsClient;
  logger: Logger;
  registry?: Registry;
  /** Deliveries before an event becomes a dead letter. */
  maxDeliveries?: number;
  /** Redelivery backoff after a failure: initial, doubling, capped. */
  backoff?: { initialMs: number; maxMs: number };
  /** Unacknowledged time before JetStream redelivers (a crashed consumer's messages). */
  ackWaitMs?: number;
  /** Events handled at once (events of one aggregate are handled one after another). */
  concurrency?: number;
  /** Where the stream and subjects live (tests); the spec names them without it. */
  namespace?: EventNamespace;
}

interface ConsumerMetrics {
  handled: Counter<"consumer" | "outcome">;
  deadLetters: Counter<"consumer">;
}

const tracer = trace.getTracer("@kindred/events");
const metricsByRegistry = new WeakMap<Registry, ConsumerMetrics>();

function metricsFor(registry: Registry | undefined): ConsumerMetrics {
  const cached = registry === undefined ? undefined : metricsByRegistry.get(registry);
  if (cached !== undefined) return cached;
  const registers = registry === undefined ? [] : [registry];
  const metrics = {
    handled: new Counter({
      name: "kindred_events_consumed_total",
      help: "Events a consumer finished with, by outcome (applied, duplicate, retry, dead_letter).",
      labelNames: ["consumer", "outcome"] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: "kindred_events_dead_letters_total",
      help: "Events moved to the dead-letter table.",
      labelNames: ["consumer"] as const,
      registers,
    }),
  };
  if (registry !== undefined) metricsByRegistry.set(registry, metrics);
  return metrics;
}

/** Reason an event is dead-lettered without retries: retrying cannot help. */
export class PermanentFailure extends Error {
  override readonly name = "PermanentFailure";
}

/**
 * A durable JetStream pull consumer with explicit acks that applies each event exactly once:
 * the handler's effect and the inbox row commit together, a redelivery finds the inbox row and
 * is acked without effect. A failing event is retried with exponential backoff (nak with delay)
 * and after `maxDeliveries` stored as a dead letter (payload, headers, last error) and
 * terminated, while other events keep flowing.
 */
export class EventConsumer<Desc extends DescMessage> implements AsyncDisposable {
  readonly #spec: ConsumerSpec<Desc>;
  readonly #options: Required<Omit<ConsumerOptions, "registry">>;
  readonly #metrics: ConsumerMetrics;
  readonly #stop = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  /** Per aggregate, the tail of its chain of handlings (keeps an aggregate's order). */
  readonly #chains = new Map<string, Promise<void>>();
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(spec: ConsumerSpec<Desc>, options: ConsumerOptions) {
    this.#spec = spec;
    this.#options = {
      maxDeliveries: 5,
      backoff: { initialMs: 500, maxMs: 60_000 },
      ackWaitMs: 30_000,
      concurrency: 16,
      namespace: noNamespace,
      ...options,
    };
    this.#metrics = metricsFor(options.registry);
  }

  get name(): string {
    return this.#spec.name;
  }

  get #stream(): string {
    return streamIn(this.#options.namespace, this.#spec.stream);
  }

  /** Creates or updates the durable consumer on the stream (idempotent). */
  async ensure(): Promise<void> {
    const jsm = await this.#options.nats.jetstreamManager();
    const config = {
      durable_name: this.#spec.name,
      filter_subject: subjectIn(this.#options.namespace, this.#spec.event.subject),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.#options.ackWaitMs),
      // Redelivery is ours to bound (dead letters); JetStream would only stop delivering.
      max_deliver: -1,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: this.#options.concurrency * 4,
    };
    try {
      await jsm.consumers.info(this.#stream, this.#spec.name);
      await jsm.consumers.update(this.#stream, this.#spec.name, config);
    } catch (err) {
      if (!/consumer not found/i.test(String(err))) throw err;
      await jsm.consumers.add(this.#stream, config);
    }
  }

  /** Starts pulling in the background; retries while NATS or the stream is unavailable. */
  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stop.signal.aborted) {
      try {
        await this.ensure();
        const consumer = await this.#options.nats
          .jetstream()
          .consumers.get(this.#stream, this.#spec.name);
        const messages = await consumer.consume({ max_messages: this.#options.concurrency * 2 });
        this.#messages = messages;
        if (this.#stop.signal.aborted) messages.stop();
        attempt = 0;
        for await (const msg of messages) {
          await this.#admit(msg);
        }
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        attempt++;
        this.#options.logger.warn(
          { err, consumer: this.#spec.name, attempt },
          "event consumer cannot pull; retrying",
        );
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, 200, 10_000)));
      }
    }
  }

  /** Waits for a free slot, then handles `msg` after the previous event of its aggregate. */
  async #admit(msg: JsMsg): Promise<void> {
    while (this.#inFlight.size >= this.#options.concurrency) {
      await Promise.race(this.#inFlight);
    }
    const key = msg.headers?.get("Kindred-Aggregate-Id") ?? "";
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const task: Promise<void> = previous.then(() => this.#handle(msg));
    this.#chains.set(key, task);
    this.#inFlight.add(task);
    void task.finally(() => {
      this.#inFlight.delete(task);
      if (this.#chains.get(key) === task) this.#chains.delete(key);
      if (this.#inFlight.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
    });
  }

  async #handle(msg: JsMsg): Promise<void> {
    const headers: EventHeaders = {};
    for (const key of msg.headers?.keys() ?? []) headers[key] = msg.headers?.get(key) ?? "";
    const parent = propagation.extract(context.active(), headers);
    await tracer.startActiveSpan(
      `process ${msg.subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": msg.subject,
          "messaging.consumer.group.name": this.#spec.name,
        },
      },
      parent,
      async (span) => {
        try {
          const outcome = await this.#apply(msg, headers);
          this.#metrics.handled.inc({ consumer: this.#spec.name, outcome });
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
          await this.#failed(msg, headers, err);
        } finally {
          span.end();
        }
      },
    );
  }

  async #apply(msg: JsMsg, headers: EventHeaders): Promise<"applied" | "duplicate"> {
    const outcome = await this.applyStored({
      subject: msg.subject,
      headers,
      payload: msg.data,
      deliveryCount: msg.info.deliveryCount,
    });
    await msg.ackAck().catch(() => msg.ack());
    return outcome;
  }

  /**
   * Decodes an event and applies it with the inbox, in one transaction. Used for deliveries and
   * for replaying dead letters; throws `PermanentFailure` for an event no retry can fix.
   */
  async applyStored(stored: {
    subject: string;
    headers: EventHeaders;
    payload: Uint8Array;
    deliveryCount: number;
  }): Promise<"applied" | "duplicate"> {
    const { event } = this.#spec;
    let metadata: EventMetadata;
    let message: MessageShape<Desc>;
    try {
      metadata = fromHeaders((name) => stored.headers[name]);
      if (metadata.type !== event.name) {
        throw new PermanentFailure(`event type ${metadata.type} is not ${event.name}`);
      }
      if (metadata.version > event.version) {
        throw new PermanentFailure(
          `event ${metadata.type} v${metadata.version} is newer than this consumer knows (v${event.version}); not guessing at it`,
        );
      }
      message = fromBinary(event.schema, stored.payload);
    } catch (err) {
      if (err instanceof PermanentFailure) throw err;
      if (err instanceof MalformedEventError) throw new PermanentFailure(err.message);
      throw new PermanentFailure(`cannot decode ${event.schema.typeName}: ${String(err)}`);
    }
    const received: ReceivedEvent<Desc> = {
      metadata,
      message,
      subject: stored.subject,
      deliveryCount: stored.deliveryCount,
    };
    return this.#options.db.transaction(async (trx) => {
      const inserted = await sql`
        insert into event_inbox (consumer, event_id) values (${this.#spec.name}, ${metadata.id})
        on conflict do nothing`.execute(trx);
      if (Number(inserted.numAffectedRows ?? 0) === 0) return "duplicate" as const;
      await this.#spec.handle(received, trx);
      return "applied" as const;
    });
  }

  async #failed(msg: JsMsg, headers: EventHeaders, err: unknown): Promise<void> {
    const { logger, maxDeliveries, backoff } = this.#options;
    const deliveries = msg.info.deliveryCount;
    const reason = err instanceof Error ? err.message : String(err);
    const permanent = err instanceof PermanentFailure;
    if (!permanent && deliveries < maxDeliveries) {
      const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** (deliveries - 1));
      logger.warn(
        {
          consumer: this.#spec.name,
          eventId: headers[headerNames.id],
          deliveries,
          retryInMs: delay,
          err,
        },
        "event handling failed; will retry",
      );
      this.#metrics.handled.inc({ consumer: this.#spec.name, outcome: "retry" });
      msg.nak(delay);
      return;
    }
    try {
      await storeDeadLetter(this.#options.db, {
        consumer: this.#spec.name,
        eventId: headers[headerNames.id] ?? "00000000-0000-0000-0000-000000000000",
        subject: msg.subject,
        headers,
        payload: msg.data,
        error: reason,
        attempts: deliveries,
      });
    } catch (storeErr) {
      // Not stored: keep the event in JetStream and try again later, never drop it.
      logger.error(
        { consumer: this.#spec.name, err: storeErr },
        "cannot store dead letter; will retry",
      );
      msg.nak(backoff.maxMs);
      return;
    }
    this.#metrics.deadLetters.inc({ consumer: this.#spec.name });
    this.#metrics.handled.inc({ consumer: this.#spec.name, outcome: "dead_letter" });
    logger.error(
      {
        consumer: this.#spec.name,
        eventId: headers[headerNames.id],
        subject: msg.subject,
        deliveries,
        reason,
      },
      "event moved to dead letters",
    );
    msg.term(reason.slice(0, 200));
  }

  /** Resolves when no event is being handled (tests' idle hook). */
  async idle(): Promise<void> {
    if (this.#inFlight.size === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops pulling, finishes and acks the events it holds, then returns. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#messages?.stop();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }
}
