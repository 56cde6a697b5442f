import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { type EventNamespace, noNamespace, streamIn, subjectIn } from "./namespace.ts";

/** A stream a service owns, declared in code next to the events it publishes. */
export interface StreamSpec {
  /** `CONTENT` */
  name: string;
  /** `["content.>"]` */
  subjects: string[];
  description: string;
  /** How long events are kept: the window in which a consumer can fall behind and catch up. */
  maxAgeMs: number;
  /**
   * An upper bound on disk use in production; the oldest events go first (with `maxAgeMs`,
   * whichever first). JetStream reserves it up front; `TopologyOptions.maxBytes` overrides it.
   */
  maxBytes: number;
  /** JetStream drops a re-published event id inside this window. */
  duplicateWindowMs: number;
}

export interface TopologyOptions {
  /** Tests' and shared development servers' prefix for stream names and subjects. */
  namespace?: EventNamespace;
  /** 1 in development; 3 in production (ADR 8). */
  replicas: number;
  /** Overrides every spec's `maxBytes`; -1 for no byte limit (development, tests). */
  maxBytes?: number;
  logger: { info(obj: object, msg?: string): void };
}

function configOf(
  spec: StreamSpec,
  options: TopologyOptions,
  ns: EventNamespace,
): Partial<StreamConfig> & { name: string } {
  return {
    name: streamIn(ns, spec.name),
    subjects: spec.subjects.map((s) => subjectIn(ns, s)),
    description: spec.description,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(spec.maxAgeMs),
    max_bytes: options.maxBytes ?? spec.maxBytes,
    duplicate_window: nanos(spec.duplicateWindowMs),
    num_replicas: options.replicas,
    allow_rollup_hdrs: false,
    deny_delete: true,
    deny_purge: false,
  };
}

/**
 * Creates each stream, or brings an existing one to the declared configuration. Safe to run
 * from every replica at every start and from the `topology` command.
 */
export async function applyTopology(
  jsm: JetStreamManager,
  specs: readonly StreamSpec[],
  options: TopologyOptions,
): Promise<void> {
  for (const spec of specs) {
    const config = configOf(spec, options, options.namespace ?? noNamespace);
    let exists = true;
    try {
      await jsm.streams.info(config.name);
    } catch (err) {
      if (!/stream not found/i.test(String(err))) throw err;
      exists = false;
    }
    if (exists) {
      await jsm.streams.update(config.name, config);
      options.logger.info({ stream: config.name }, "stream configuration applied");
    } else {
      await jsm.streams.add(config);
      options.logger.info({ stream: config.name, replicas: options.replicas }, "stream created");
    }
  }
}
