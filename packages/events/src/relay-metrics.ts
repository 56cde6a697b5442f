import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface RelayMetrics {
  published: Counter;
  failures: Counter;
  publishDuration: Histogram;
  commitToAck: Histogram;
  leader: Gauge;
}

/**
 * The relay's metrics; backlog and oldest-unsent age are read from the outbox when Prometheus
 * scrapes, so they are true even while the relay is stuck.
 */
export function createRelayMetrics(
  registry: Registry | undefined,
  backlog: () => Promise<{ count: number; oldestAgeSeconds: number }>,
): RelayMetrics {
  const registers = registry === undefined ? [] : [registry];
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  const readBacklog = async (gauge: Gauge, pick: "count" | "oldestAgeSeconds") => {
    try {
      gauge.set((await backlog())[pick]);
    } catch {
      // The database is down: leave the last value; kindred_dependency_up says why.
    }
  };
  new Gauge({
    name: "kindred_outbox_backlog",
    help: "Outbox events not yet published to JetStream.",
    registers,
    async collect() {
      await readBacklog(this, "count");
    },
  });
  new Gauge({
    name: "kindred_outbox_oldest_unsent_age_seconds",
    help: "Age of the oldest outbox event not yet published (0 when none).",
    registers,
    async collect() {
      await readBacklog(this, "oldestAgeSeconds");
    },
  });
  return {
    published: new Counter({
      name: "kindred_outbox_published_total",
      help: "Outbox events published to JetStream and acknowledged.",
      registers,
    }),
    failures: new Counter({
      name: "kindred_outbox_publish_failures_total",
      help: "Outbox publishes that failed (retried later).",
      registers,
    }),
    publishDuration: new Histogram({
      name: "kindred_outbox_publish_duration_seconds",
      help: "Time from sending an event to JetStream to its acknowledgement.",
      buckets,
      registers,
    }),
    commitToAck: new Histogram({
      name: "kindred_outbox_commit_to_ack_seconds",
      help: "Time from an outbox row's insertion to JetStream's acknowledgement of it.",
      buckets,
      registers,
    }),
    leader: new Gauge({
      name: "kindred_outbox_relay_leader",
      help: "1 while this replica's relay holds the outbox lease and publishes.",
      registers,
    }),
  };
}
