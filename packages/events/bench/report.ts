import { markdownTable, textTable, writeBenchSection } from "@kindred/testing";
import type { LatencyResult } from "./commit-latency.ts";
import type { BenchConfig } from "./config.ts";
import type { ConcurrentResult } from "./relay-throughput.ts";
import type { RoundProfile, RoundVariant } from "./round-profile.ts";
import { type Distribution, median } from "./stats.ts";

export interface BenchResults {
  config: BenchConfig;
  date: string;
  machine: {
    cores: number;
    cpus: string;
    memory: string;
    /** 1-minute load average before and after the bench (others may share the machine). */
    load: string;
    node: string;
    postgres: string;
    nats: string;
  };
  message: { payloadBytes: number; headerBytes: number };
  fillRate: number;
  raw: { waves: number[]; sliding: number[] };
  relay: { batchSize: number; runs: number[] }[];
  profile: RoundProfile[];
  concurrent: ConcurrentResult[];
  latency: LatencyResult[];
  seconds: number;
}

const relayTarget = 0.5;
const p99TargetMs = 25;

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => n.toFixed(1);
const runs = (values: number[]) => values.map(int).join(" / ");

interface ProfileSummary {
  variant: RoundVariant;
  eventsPerSecond: number;
  selectMs: number;
  publishMs: number;
  updateMs: number;
}

/** The medians and verdicts both renderings show. */
function summarize(r: BenchResults) {
  const waves = median(r.raw.waves);
  const sliding = median(r.raw.sliding);
  const rawLimit = Math.max(waves, sliding);
  const relay = r.relay.map((s) => ({
    ...s,
    median: median(s.runs),
    ratio: median(s.runs) / rawLimit,
  }));
  const best = relay.reduce((a, b) => (b.median > a.median ? b : a));
  const pick = (f: (l: LatencyResult) => Distribution): Distribution => ({
    p50: median(r.latency.map((l) => f(l).p50)),
    p90: median(r.latency.map((l) => f(l).p90)),
    p99: median(r.latency.map((l) => f(l).p99)),
    max: Math.max(...r.latency.map((l) => f(l).max)),
  });
  const profile: ProfileSummary[] = r.config.profile.map((variant) => {
    const of = r.profile.filter((p) => p.variant === variant);
    return {
      variant,
      eventsPerSecond: median(of.map((p) => p.eventsPerSecond)),
      selectMs: median(of.map((p) => p.selectMs)),
      publishMs: median(of.map((p) => p.publishMs)),
      updateMs: median(of.map((p) => p.updateMs)),
    };
  });
  const ack = pick((l) => l.commitToAck);
  return {
    waves,
    sliding,
    rawLimit,
    relay,
    best,
    latency: {
      ack,
      pickup: pick((l) => l.commitToPublish),
      nats: pick((l) => l.publishToAck),
      delivery: pick((l) => l.commitToDelivery),
      lag: pick((l) => l.scheduleLag),
      loop: pick((l) => l.eventLoopDelay),
    },
    p99s: r.latency.map((l) => l.commitToAck.p99),
    rate: median(r.latency.map((l) => l.achievedRate)),
    profile,
    concurrent: {
      writeRate: median(r.concurrent.map((c) => c.writeRate)),
      relayRate: median(r.concurrent.map((c) => c.relayRateDuringWrites)),
      backlog: Math.max(...r.concurrent.map((c) => c.backlogAtEnd)),
    },
    relayMet: best.ratio >= relayTarget,
    latencyMet: ack.p99 <= p99TargetMs,
  };
}

type Summary = ReturnType<typeof summarize>;

function throughputRows(r: BenchResults, s: Summary): string[][] {
  const c = r.config;
  return [
    [
      `Raw JetStream publish, waves of ${int(c.window)}`,
      int(s.waves),
      runs(r.raw.waves),
      (s.waves / s.rawLimit).toFixed(2),
    ],
    [
      `Raw JetStream publish, sliding window of ${int(c.window)}`,
      int(s.sliding),
      runs(r.raw.sliding),
      (s.sliding / s.rawLimit).toFixed(2),
    ],
    ...s.relay.map((x) => [
      `Relay, batch ${int(x.batchSize)}`,
      int(x.median),
      runs(x.runs),
      x.ratio.toFixed(2),
    ]),
    [
      `Relay while ${c.concurrent.write.writers} writers commit (batch ${int(c.concurrent.batchSize)})`,
      int(s.concurrent.relayRate),
      runs(r.concurrent.map((x) => x.relayRateDuringWrites)),
      `writers ${int(s.concurrent.writeRate)}/s`,
    ],
  ];
}

function latencyRows(s: Summary): string[][] {
  const l = s.latency;
  return (
    [
      ["Commit → ack (the relay's publish resolved)", l.ack],
      ["· of which commit → the relay calls publish", l.pickup],
      ["· of which publish → ack", l.nats],
      ["Commit → delivery to a core subscriber", l.delivery],
      ["Writer schedule lag", l.lag],
      ["Bench event-loop delay", l.loop],
    ] as const
  ).map(([name, d]) => [name, ms(d.p50), ms(d.p90), ms(d.p99), ms(d.max)]);
}

function profileRows(s: Summary): string[][] {
  return s.profile.map((p) => [
    p.variant.name,
    int(p.variant.batchSize),
    int(p.eventsPerSecond),
    ms(p.selectMs),
    ms(p.publishMs),
    ms(p.updateMs),
  ]);
}

function targetRows(r: BenchResults, s: Summary): string[][] {
  return [
    [
      `Relay ≥ ${relayTarget} × raw`,
      `${s.best.ratio.toFixed(2)} × (batch ${int(s.best.batchSize)}: ${int(s.best.median)} of ${int(s.rawLimit)} events/s)`,
      s.relayMet ? "yes" : "no",
    ],
    [
      `Commit → ack p99 ≤ ${p99TargetMs} ms at ${int(r.config.latency.ratePerSecond)}/s`,
      `${ms(s.latency.ack.p99)} ms (runs: ${s.p99s.map(ms).join(" / ")})`,
      s.latencyMet ? "yes" : "no",
    ],
  ];
}

const heads = {
  throughput: ["Throughput", "Median events/s", "Runs", "vs raw limit"],
  latency: ["Latency, ms", "p50", "p90", "p99", "max"],
  profile: ["Round", "Batch", "Events/s", "SELECT", "Publish + acks", "UPDATE sent_at"],
  targets: ["Target", "Reached", "Met"],
};

export function renderTable(r: BenchResults): string {
  const s = summarize(r);
  const c = r.config;
  return [
    "",
    `Event backbone bench, ${r.date} (${r.seconds.toFixed(0)} s; load ${r.machine.load})`,
    `${r.machine.cpus}; node ${r.machine.node}; PostgreSQL ${r.machine.postgres}; NATS ${r.machine.nats}`,
    `PostCreated: ${r.message.payloadBytes} B payload + ${r.message.headerBytes} B headers; ${int(c.events)} events per run; median of ${c.repeats} runs`,
    "",
    textTable(heads.throughput, throughputRows(r, s)),
    "",
    `Commit → JetStream ack at ${int(c.latency.ratePerSecond)}/s for ${c.latency.seconds} s (achieved ${int(s.rate)}/s)`,
    textTable(heads.latency, latencyRows(s)),
    "",
    "Relay round profile (median of runs; mean ms per round)",
    textTable(heads.profile, profileRows(s)),
    "",
    textTable(heads.targets, targetRows(r, s)),
    "",
  ].join("\n");
}

function bounds(r: BenchResults, s: Summary): string {
  const c = r.config;
  const cores = r.machine.cores;
  const find = (asyncCommit: boolean, overlapUpdate: boolean, batchSize = 500) =>
    s.profile.find(
      (p) =>
        p.variant.batchSize === batchSize &&
        p.variant.asyncCommit === asyncCommit &&
        p.variant.overlapUpdate === overlapUpdate,
    );
  const asIs = find(false, false);
  const unsynced = find(true, false);
  const overlapped = find(false, true);
  const round = asIs === undefined ? Number.NaN : asIs.selectMs + asIs.publishMs + asIs.updateMs;
  const share = (x: number | undefined) => `${Math.round((100 * (x ?? 0)) / round)} %`;
  const fsyncMatters =
    asIs !== undefined && unsynced !== undefined && unsynced.updateMs < 0.8 * asIs.updateMs;
  const l = s.latency;
  const writersKeptUp = l.lag.p50 < 1 && s.rate >= 0.98 * c.latency.ratePerSecond;
  const relaySide = l.pickup.p99 >= l.nats.p99;
  return `**Raw.** One Node process on one NATS connection: every JetStream publish is a request whose
ack comes back on its own reply subject and settles its own promise; the server appends each
message to its file store and records its \`Nats-Msg-Id\` for the duplicate window. Client and
server share ${cores} cores with PostgreSQL (idle during this part), so the limit is CPU. Waves
beat the sliding window (${int(s.waves)} vs ${int(s.sliding)}/s), most likely because a burst lets
client and server handle many messages per wake-up, where a sliding window trickles one publish
per returning ack.

**Relay.** A round is strictly sequential: SELECT (${ms(asIs?.selectMs ?? 0)} ms, ${share(asIs?.selectMs)}),
publish the batch and await every ack (${ms(asIs?.publishMs ?? 0)} ms, ${share(asIs?.publishMs)}, close to
the raw waves rate), then UPDATE \`sent_at\` (${ms(asIs?.updateMs ?? 0)} ms, ${share(asIs?.updateMs)}) at batch
500. The relay therefore reaches at most publish ÷ round of the raw rate, and a larger batch
barely helps: all three phases grow with it. The UPDATE is the costliest database step: \`sent_at\`
is in index predicates and in an index, so no row can be a HOT update; each row gets a new heap
tuple plus entries in the primary-key, \`seq\`, \`created_at\` and \`sent_at\` indexes. ${
    fsyncMatters
      ? `Its WAL flush matters: with \`synchronous_commit=off\` it takes ${ms(unsynced?.updateMs ?? 0)} ms.`
      : `Its WAL flush is not what costs: with \`synchronous_commit=off\` it still takes ${ms(unsynced?.updateMs ?? 0)} ms, so the cost is CPU (tuple and index writes), not fsync.`
  } Overlapping the UPDATE with the next round's SELECT and publishes gives ${int(overlapped?.eventsPerSecond ?? 0)}
events/s (vs ${int(asIs?.eventsPerSecond ?? 0)} as is). Per-aggregate sequencing costs nothing here because
every batch spans hundreds of posts; a batch holding _k_ events of one aggregate waits _k_ ack
round trips for that chain.

**Writers.** While writers run, the relay publishes as fast as they commit (${int(s.concurrent.writeRate)}
events/s with ${c.concurrent.write.writers} writers and ${c.concurrent.write.eventsPerTransaction} events per transaction; never more than
${int(s.concurrent.backlog)} rows behind when they stop): the writers are the bound, not the relay. Each event
costs two statements (the aggregate's advisory lock and the INSERT) and the statement trigger's
NOTIFY, and PostgreSQL serializes the commits of transactions that sent a NOTIFY (a lock held
until the commit is flushed).

**Latency.** The relay sleeps until the trigger's NOTIFY, then an event waits for the round in
progress (its SELECT, publishes and UPDATE), its own SELECT, and one JetStream ack. Of the
commit → ack p99 of ${ms(l.ack.p99)} ms, commit → publish call (NOTIFY, waiting round, SELECT) is
${ms(l.pickup.p99)} ms and publish → ack ${ms(l.nats.p99)} ms at p99, so the ${relaySide ? "relay's side (NOTIFY, waiting for the round, SELECT)" : "NATS side"} dominates the tail.
${
  writersKeptUp
    ? `The writers kept pace (schedule lag p50 ${ms(l.lag.p50)} ms, p99 ${ms(l.lag.p99)} ms: occasional stalls).`
    : `The writers themselves fell behind their schedule (lag p50 ${ms(l.lag.p50)} ms, p99 ${ms(l.lag.p99)} ms) and then committed in bursts: the machine was short of CPU.`
} Everything shares ${cores} cores: ${c.latency.writers} writer backends, the relay's backend, NATS,
and one Node event loop running writers, relay and the measuring subscription (its delay p99
${ms(l.loop.p99)} ms, max ${ms(l.loop.max)} ms). Delivery to a core subscriber tracks the ack
(p99 ${ms(l.delivery.p99)} vs ${ms(l.ack.p99)} ms): storing in JetStream adds little beyond the round trip.`;
}

export function renderMarkdown(r: BenchResults): string {
  const s = summarize(r);
  const c = r.config;
  return `## Event backbone

Written by \`packages/events/bench/relay.bench.ts\` (\`pnpm bench\`), which rewrites this section on
every run.

- **Date**: ${r.date}
- **Machine**: ${r.machine.cpus}, ${r.machine.memory}; 1-minute load average ${r.machine.load} (before → after; the machine is shared with other work)
- **Node**: ${r.machine.node}
- **PostgreSQL**: ${r.machine.postgres}
- **NATS**: ${r.machine.nats}
- **Message**: a serialized \`PostCreated\` (${r.message.payloadBytes} B payload) with the standard event headers and \`Nats-Msg-Id\` (${r.message.headerBytes} B header block), subject \`<ns>.content.post.created.v1\`, on a stream configured like \`CONTENT\` (file storage, one replica, 10-minute duplicate window) created afresh for every run.
- **Whole bench**: ${r.seconds.toFixed(0)} s. PostgreSQL, NATS and the bench process share the ${r.machine.cores} cores. Tracing is off (no OpenTelemetry SDK registered), as in a service without an exporter.

### Method

Every measurement runs ${c.repeats} times; tables show the median (for latency, the median of each run's percentile and the largest max). Raw and relay runs are interleaved, so drift on the shared machine affects both alike.

1. **Raw limit.** ${int(c.events)} messages published with \`@nats-io/jetstream\` v3 \`js.publish\` (each resolves with the stream's ack), built before the clock starts; the NATS header block is built per publish, as the relay does. Two ways of keeping ${int(c.window)} in flight: _waves_ (send ${int(c.window)}, await all acks, repeat, which is what the relay does with a batch) and a _sliding window_ (send the next as soon as any ack returns). The faster is the limit.
2. **Relay sustained throughput.** ${int(c.events)} rows are committed once through \`Outbox.enqueue\` (${c.fill.writers} writers, ${c.fill.eventsPerTransaction} enqueues per transaction, spread over ${int(c.fill.aggregates)} posts; ${int(r.fillRate)} events/s). Before each run every row is made unsent again (\`republishSince\`), the table compacted (\`VACUUM FULL\`, \`ANALYZE\`) and a \`CHECKPOINT\` taken. One \`OutboxRelay\` (the world's pool, \`pollIntervalMs\` 10) is started; the clock runs from \`start()\` (taking the lease included) until its \`kindred_outbox_published_total\` reaches ${int(c.events)}, i.e. the last \`sent_at\` update has committed. Then the stream must hold exactly ${int(c.events)} messages and \`backlog()\` be 0.
3. **Relay with concurrent writers.** The relay idles as leader on an empty outbox; ${c.concurrent.write.writers} writers then commit ${int(c.concurrent.events)} events (${c.concurrent.write.eventsPerTransaction} per transaction, over ${int(c.concurrent.write.aggregates)} posts) as fast as they can. Relay rate = events published while the writers ran ÷ their duration.
4. **Commit → JetStream-ack latency.** ${c.latency.writers} writers share a schedule of one event every ${1000 / c.latency.ratePerSecond} ms (slot _k_ due at t0 + _k_ ms, timer-paced); each takes the next slot, commits one transaction holding one \`Outbox.enqueue\` of a new post, and notes \`performance.now()\` right after COMMIT returns. The relay runs in the same process (batch ${c.latency.batchSize}, default \`pollIntervalMs\` ${int(c.latency.pollIntervalMs)}, so NOTIFY wakes it) on the writers' pool; its \`publisher\` is the real \`jetStreamPublisher\`, wrapped to note when the relay called it and when it resolved, i.e. when JetStream's ack for that \`Nats-Msg-Id\` reached the relay. _Commit → ack_ is that time minus the commit time, per event. A core NATS subscription on the subject (a second connection) notes each delivery as a cross-check. ${c.latency.warmupSeconds} s of warm-up at the same rate is left out; ${c.latency.seconds} s (${int(c.latency.ratePerSecond * c.latency.seconds)} events) are measured. _Writer schedule lag_ is how late a writer began its transaction against its slot (negative: timer fired early); _event-loop delay_ is the bench process's, beyond the 1 ms sampling interval.
5. **Round profile.** A copy of the relay's round (same SELECT, per-aggregate chains, spans, \`jetStreamPublisher\`, UPDATE) with a clock around each phase, run over the ${int(c.events)}-row backlog; variants show what a change to the relay would gain (the relay itself is unchanged). With the UPDATE overlapped, the next SELECT leaves out the rows being marked, and the UPDATE column is what a round still waited for the previous one.

### Results

${markdownTable(heads.throughput, throughputRows(r, s))}

Commit → JetStream ack at ${int(c.latency.ratePerSecond)} events/s (achieved ${int(s.rate)}/s):

${markdownTable(heads.latency, latencyRows(s))}

Where a relay round's time goes (median of ${c.repeats} runs, mean ms per round):

${markdownTable(heads.profile, profileRows(s))}

### Targets

${markdownTable(heads.targets, targetRows(r, s))}

### What bounds them

${bounds(r, s)}
`;
}

/** Rewrites this bench's section of docs/benchmarks.md; the other sections stay as they are. */
export async function writeReport(markdown: string): Promise<void> {
  await writeBenchSection(
    new URL("../../../docs/benchmarks.md", import.meta.url),
    "events",
    markdown,
  );
}
