import { listDeadLetters, replayDeadLetters, republishSince } from "@kindred/events";
import type { ServiceHost } from "@kindred/runtime";
import type { EventsKit } from "./events.ts";

interface Built {
  host: ServiceHost;
  events: EventsKit;
}

const out = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

/**
 * The operator commands of a service on the event backbone, run as
 * `node dist/main.js <command> …` with the service's own configuration:
 *
 * - `topology` — create or update the service's streams;
 * - `republish --since <ISO time>` — publish kept outbox rows again (consumers are idempotent);
 * - `dead-letters list [--consumer <name>] [--all]` — one JSON line per dead letter;
 * - `dead-letters replay <id> | --all` — apply them again through their consumer.
 */
export function eventCommands<C>(build: (config: C) => Built) {
  const withApp = async (config: C, fn: (app: Built) => Promise<void>) => {
    const app = build(config);
    try {
      await fn(app);
    } finally {
      await app.host.lifecycle.stop(AbortSignal.timeout(10_000));
    }
  };
  return {
    topology: (config: C) =>
      withApp(config, async ({ events }) => {
        const nats = events.natsClient;
        nats.start();
        await nats.connected(AbortSignal.timeout(15_000));
        await events.applyTopology();
        out({ applied: events.streams.map((s) => s.name) });
      }),
    republish: (config: C, args: string[]) =>
      withApp(config, async ({ events }) => {
        const at = args.indexOf("--since");
        const since = new Date(at === -1 ? Number.NaN : (args[at + 1] ?? ""));
        if (Number.isNaN(since.getTime())) {
          throw new Error("usage: republish --since <ISO 8601 time>, e.g. 2026-11-25T10:00:00Z");
        }
        out({
          republishing: await republishSince(events.database, since),
          since: since.toISOString(),
        });
      }),
    "dead-letters": (config: C, args: string[]) =>
      withApp(config, async ({ events }) => {
        const [action, target] = args;
        if (action === "list") {
          const at = args.indexOf("--consumer");
          const letters = await listDeadLetters(events.database, {
            includeReplayed: args.includes("--all"),
            ...(at === -1 || args[at + 1] === undefined
              ? {}
              : { consumer: args[at + 1] as string }),
          });
          for (const l of letters) {
            out({
              id: l.id,
              consumer: l.consumer,
              eventId: l.eventId,
              subject: l.subject,
              type: l.headers["Kindred-Event-Type"],
              attempts: l.attempts,
              error: l.error,
              failedAt: l.failedAt,
              replayedAt: l.replayedAt,
            });
          }
          return;
        }
        if (action === "replay" && target !== undefined) {
          const results = await replayDeadLetters(
            events.database,
            events.consumers,
            target === "--all" ? { all: true } : { id: target },
          );
          for (const r of results) out(r);
          if (results.some((r) => r.outcome === "failed")) process.exitCode = 1;
          return;
        }
        throw new Error(
          "usage: dead-letters list [--consumer <name>] [--all] | dead-letters replay <id>|--all",
        );
      }),
  };
}
