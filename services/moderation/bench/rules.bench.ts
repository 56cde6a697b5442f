/**
 * `pnpm bench`: the moderation rules engine (the default rules) against the cheapest matcher one
 * could write instead, lower-casing the text and looking for each bank term with `includes`, on
 * the same posts in the same run. Reports throughput, per-post latency, and how many of the
 * evasive posts each catches. Written to this bench's section of docs/benchmarks.md.
 */

import { readFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { markdownTable, textTable, writeBenchSection } from "@kindred/testing";
import { defaultRulesPath, RulesEngine } from "../src/rules/index.ts";
import type { AuthorSignals, ScanInput } from "../src/rules/types.ts";

const posts = 4_000;
const rounds = 5;

const ordinary = [
  "Had a long day at work, but the walk home helped a lot.",
  "Does anyone have tips for sleeping better? I keep waking up at 3am.",
  "Thank you all for listening yesterday, it meant more than you know.",
  "Therapy was hard today. We talked about my dad again.",
  "Small win: I cooked dinner for the first time in weeks!",
  "Anyone else find Sundays the hardest? Everything feels so quiet.",
];
/** What people write to get past a filter: each should match a default rule. */
const evasive = [
  "i want to k1ll   mys3lf tonight",
  "honestly I just want to end my l i f e",
  "kіll mуself (cyrillic letters)",
  "K.I.L.L. M.Y.S.E.L.F",
  "i wanna d1e, nobody would miss me",
  "you should k y s",
  "go back to your c0untry",
  "send nudes pls",
];

function corpus(): { body: string; evasive: boolean }[] {
  const out: { body: string; evasive: boolean }[] = [];
  for (let i = 0; i < posts; i++) {
    const bad = i % 20 === 0;
    const pick = bad ? evasive[(i / 20) % evasive.length] : ordinary[i % ordinary.length];
    out.push({ body: `${pick} (${i})`, evasive: bad });
  }
  return out;
}

const signals: AuthorSignals = {
  accountCreatedAt: async () => new Date(Date.now() - 90 * 86_400_000),
  recentActivity: async () => ({ count: 0, duplicates: 0 }),
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const raw = JSON.parse(await readFile(defaultRulesPath(), "utf8")) as {
    banks: { terms: string[] }[];
  };
  const engine = RulesEngine.fromJson(raw, "default rules");
  const terms = raw.banks.flatMap((b) => b.terms.map((t) => t.toLowerCase()));
  const naive = (body: string) => {
    const text = body.toLowerCase();
    return terms.some((t) => text.includes(t));
  };
  const items = corpus();
  const input = (body: string, i: number): ScanInput => ({
    kind: "post",
    contentId: `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`,
    authorId: "00000000-0000-7000-8000-000000000001",
    circleId: "00000000-0000-7000-8000-000000000002",
    body,
    at: new Date(),
  });

  // Warm both up, then measure rounds alternately so machine noise hits both alike.
  for (const [i, item] of items.slice(0, 500).entries()) {
    await engine.evaluate(input(item.body, i), signals);
    naive(item.body);
  }
  const engineRates: number[] = [];
  const naiveRates: number[] = [];
  const latencies: number[] = [];
  let engineCaught = 0;
  let naiveCaught = 0;
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    engineCaught = 0;
    for (const [i, item] of items.entries()) {
      const t = performance.now();
      const verdict = await engine.evaluate(input(item.body, i), signals);
      latencies.push(performance.now() - t);
      if (item.evasive && verdict.outcome !== "none" && verdict.outcome !== "allow") engineCaught++;
    }
    engineRates.push(items.length / ((performance.now() - started) / 1000));
    started = performance.now();
    naiveCaught = 0;
    for (const item of items) if (naive(item.body) && item.evasive) naiveCaught++;
    naiveRates.push(items.length / ((performance.now() - started) / 1000));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const sorted = [...latencies].sort((a, b) => a - b);
  const evasiveCount = items.filter((i) => i.evasive).length;
  const engineRate = median(engineRates);
  const naiveRate = median(naiveRates);
  const head = ["matcher", "posts/s (median of 5)", "p50 µs", "p99 µs", "evasive posts caught"];
  const rows = [
    [
      "rules engine (default rules)",
      engineRate.toFixed(0),
      (percentile(sorted, 50) * 1000).toFixed(0),
      (percentile(sorted, 99) * 1000).toFixed(0),
      `${engineCaught} / ${evasiveCount}`,
    ],
    [
      "baseline: lower-case + includes",
      naiveRate.toFixed(0),
      "–",
      "–",
      `${naiveCaught} / ${evasiveCount}`,
    ],
  ];
  const ratio = engineRate / naiveRate;
  process.stdout.write(
    `${textTable(head, rows)}\nengine / baseline throughput: ${ratio.toFixed(3)}×\n`,
  );
  const markdown = `## Moderation rules engine

${new Date().toISOString().slice(0, 10)}, ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? "?"}, Node ${process.version}.
${posts} posts per round (1 in 20 written to evade a filter: leetspeak, spacing, confusables,
dots), ${rounds} rounds alternating engine and baseline; one thread, no I/O (author signals
answered in memory). The baseline is the cheapest matcher one could write with the same bank
terms; it is the lower bound of cost, not an alternative.

${markdownTable(head, rows)}

The engine runs at **${ratio.toFixed(3)}×** the baseline's throughput and costs about
${(percentile(sorted, 50) * 1000).toFixed(0)} µs per post at the median: far below the scanner's
other work per post (its database transaction), so the pipeline's latency is not the rules'.
`;
  await writeBenchSection(
    new URL("../../../docs/benchmarks.md", import.meta.url),
    "moderation-rules",
    markdown,
  );
}

await main();
