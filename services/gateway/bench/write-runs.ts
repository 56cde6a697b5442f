import { Visibility } from "@kindred/proto/circles/v1";
import { PostService } from "@kindred/proto/content/v1";
import { sql } from "kysely";
import type { ClientThread } from "./client-thread.ts";
import type { BenchConfig } from "./config.ts";
import { closedLoop } from "./load.ts";
import { openRawDatabase, rawCreatePost } from "./raw-writes.ts";
import { measure, type Run } from "./runs.ts";
import { memberInContent, type World } from "./world.ts";

export type SeriesName = "raw" | "content" | "gateway";

/** Alternates the order of the series from one run to the next (A B C, C B A, A B C…). */
export const orderOf = <T>(items: readonly T[], run: number): T[] =>
  run % 2 === 1 ? [...items] : [...items].reverse();

export const procedureOf = (method: string) => `/${PostService.typeName}/${method}`;

/**
 * The write series, alternated: raw transactions, CreatePost straight to content, CreatePost
 * through the gateway. Writers are registered users, one per concurrent call, all members of one
 * circle made and joined through circles.
 */
export async function measureWrites(
  world: World,
  clients: ClientThread,
  config: BenchConfig,
  progress: (line: string) => void,
): Promise<Record<SeriesName, Run[]>> {
  const { main } = world;
  const w = config.writes;
  const writers = [];
  for (let i = 1; i <= w.concurrency; i++) writers.push(await world.register(`Writer${i}`));
  const [owner, ...others] = writers;
  if (owner === undefined) throw new Error("no writers");
  const { circle } = await owner.circles.createCircle({
    name: "Bench writers",
    description: "API bench: CreatePost",
    visibility: Visibility.OPEN,
  });
  const circleId = circle?.id ?? "";
  for (const writer of others) await writer.circles.joinCircle({ circleId });
  for (const writer of writers) await memberInContent(writer, circleId);
  progress(`${writers.length} writers in circle ${circleId}`);

  const relay = main.events.relay;
  if (relay === undefined) throw new Error("content runs no outbox relay");
  const db = world.use(openRawDatabase(main.config.database));
  const raw = rawCreatePost(db, main.events.outbox, {
    circleId,
    authorIds: writers.map((writer) => writer.id),
  });
  const tokens = writers.map((writer) => writer.accessToken);
  const shape = (count: number) => ({
    count,
    concurrency: w.concurrency,
    maxSeconds: config.maxRunSeconds,
  });
  const rpc = (baseUrl: string) => (count: number) =>
    measure(() => clients.run({ call: "createPost", baseUrl, tokens, circleId, ...shape(count) }), {
      content: main.content,
      procedure: procedureOf("CreatePost"),
    });
  const series: Record<SeriesName, (count: number) => Promise<Run>> = {
    raw: (count) => measure(async () => ({ timed: await closedLoop(raw, shape(count)) })),
    content: rpc(main.content.url),
    gateway: rpc(main.gateway.url),
  };
  const names: SeriesName[] = ["raw", "content", "gateway"];
  for (const name of names) await series[name](w.warmup);
  const runs: Record<SeriesName, Run[]> = { raw: [], content: [], gateway: [] };
  for (let r = 1; r <= config.repeats; r++) {
    for (const name of orderOf(names, r)) {
      // Each run starts from rest: every event so far published, dirty pages written out.
      await relay.flush(60_000);
      await sql`checkpoint`.execute(db.kysely);
      runs[name].push(await series[name](w.count));
      progress(`run ${r}: ${name} ${Math.round(runs[name].at(-1)?.perSecond ?? 0)} posts/s`);
    }
  }
  await relay.flush(60_000);
  return runs;
}
