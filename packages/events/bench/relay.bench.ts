/**
 * `pnpm bench`: the event backbone's throughput and latency on this machine, printed and written
 * to its section of docs/benchmarks.md. Needs the local PostgreSQL and NATS (JetStream) of the
 * test suite. Node runs this package's own source but the workspace packages' built `dist/`
 * (`turbo run bench` builds them): the generated protobuf code cannot be type-stripped.
 */
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { commitToAck, type LatencyResult } from "./commit-latency.ts";
import { config } from "./config.ts";
import { headerBytes, rawEvent } from "./fixture.ts";
import { rawPublish } from "./raw-publish.ts";
import {
  type ConcurrentResult,
  drainBacklog,
  relayWithWriters,
  writeEvents,
} from "./relay-throughput.ts";
import { type BenchResults, renderMarkdown, renderTable, writeReport } from "./report.ts";
import { profileRounds, type RoundProfile } from "./round-profile.ts";
import { createWorld, describeServers, warningSummary } from "./world.ts";

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

const perSecond = (n: number | undefined) => `${Math.round(n ?? 0)}/s`;

async function main(): Promise<void> {
  const started = performance.now();
  const load = loadavg()[0] ?? 0;
  await using world = await createWorld(config.latency.writers + 2);
  const sample = rawEvent();

  const fillRate = await writeEvents(world, config.events, config.fill);
  progress(`outbox filled: ${config.events} rows, ${perSecond(fillRate)}`);

  // Raw and relay runs interleaved, so drift on a shared machine hits both alike.
  const raw = { waves: [] as number[], sliding: [] as number[] };
  const relay = config.batchSizes.map((batchSize) => ({ batchSize, runs: [] as number[] }));
  for (let r = 1; r <= config.repeats; r++) {
    raw.waves.push(await rawPublish(world, config.events, config.window, "waves"));
    raw.sliding.push(await rawPublish(world, config.events, config.window, "sliding"));
    progress(
      `run ${r}: raw ${perSecond(raw.waves.at(-1))} waves, ${perSecond(raw.sliding.at(-1))} sliding`,
    );
    for (const series of relay) {
      series.runs.push(await drainBacklog(world, config.events, series.batchSize));
      progress(`run ${r}: relay batch ${series.batchSize} ${perSecond(series.runs.at(-1))}`);
    }
  }

  const profile: RoundProfile[] = [];
  for (let r = 1; r <= config.repeats; r++) {
    for (const variant of config.profile) {
      profile.push(await profileRounds(world, variant));
      progress(
        `run ${r}: profile ${variant.name}, batch ${variant.batchSize}: ${perSecond(profile.at(-1)?.eventsPerSecond)}`,
      );
    }
  }

  const concurrent: ConcurrentResult[] = [];
  for (let r = 1; r <= config.repeats; r++) {
    const c = config.concurrent;
    concurrent.push(await relayWithWriters(world, c.events, c.batchSize, c.write));
    progress(
      `run ${r}: writers ${perSecond(concurrent.at(-1)?.writeRate)}, relay ${perSecond(concurrent.at(-1)?.relayRateDuringWrites)}`,
    );
  }

  const latency: LatencyResult[] = [];
  for (let r = 1; r <= config.repeats; r++) {
    latency.push(await commitToAck(world, config.latency));
    progress(`run ${r}: commit→ack p99 ${latency.at(-1)?.commitToAck.p99.toFixed(1)} ms`);
  }

  const results: BenchResults = {
    config,
    date: new Date().toISOString(),
    machine: {
      cores: availableParallelism(),
      cpus: `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? "?"}`,
      memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
      load: `${load.toFixed(2)} → ${(loadavg()[0] ?? 0).toFixed(2)}`,
      node: process.version,
      ...(await describeServers(world)),
    },
    message: { payloadBytes: sample.payload.length, headerBytes: headerBytes(sample.headers) },
    fillRate,
    raw,
    relay,
    profile,
    concurrent,
    latency,
    seconds: (performance.now() - started) / 1000,
  };
  process.stdout.write(renderTable(results));
  await writeReport(renderMarkdown(results));
  progress("wrote its section of docs/benchmarks.md");
}

try {
  await main();
} catch (err) {
  process.stderr.write(
    `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
} finally {
  for (const line of warningSummary()) progress(`warning: ${line}`);
}
