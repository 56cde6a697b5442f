import { create, toBinary } from "@bufbuild/protobuf";
import { runMigrations } from "@kindred/database";
import { contentEvents } from "@kindred/event-catalog";
import { newEventId, storeDeadLetter, toHeaders } from "@kindred/events";
import { eventCommands, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase, uniqueName } from "@kindred/testing";
import { describe, expect, it, vi } from "vitest";
import { buildApp } from "../src/app.ts";
import { loadModerationConfig } from "../src/config.ts";
import { migrations } from "../src/db/migrations.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";

async function run(command: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await command();
  } finally {
    spy.mockRestore();
  }
  return lines
    .join("")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe("moderation operator commands", () => {
  it("lists dead letters and replays them through the consumer, once", async () => {
    await using db = await createTestDatabase("moderation_cmd");
    const config = loadModerationConfig(
      testServiceEnv({ database: db, extra: { EVENTS_NAMESPACE: uniqueName("modcmd") } }),
    );
    const commands = eventCommands(buildApp);
    const setup = buildApp(config);
    await runMigrations(setup.events.database, migrations, {
      logger: { info() {}, warn() {}, error() {}, debug() {} },
    });
    const event = contentEvents.postCreated;
    const id = newEventId();
    const headers = toHeaders(
      {
        id,
        type: event.name,
        version: 1,
        producer: "content",
        occurredAt: new Date(),
        actorId: someId,
        aggregateType: "post",
        aggregateId: someId,
        correlationId: id,
      },
      event.schema.typeName,
    );
    const payload = toBinary(
      event.schema,
      create(event.schema, {
        postId: someId,
        circleId: someId,
        authorId: someId,
        body: "later",
        version: 1n,
      }),
    );
    await storeDeadLetter(setup.events.database, {
      consumer: "moderation-post-created",
      eventId: id,
      subject: event.subject,
      headers,
      payload,
      error: "scanner was down",
      attempts: 5,
    });
    await setup.host.lifecycle.stop(AbortSignal.timeout(5_000));

    const listed = await run(() => commands["dead-letters"](config, ["list"]));
    expect(listed).toMatchObject([
      {
        consumer: "moderation-post-created",
        eventId: id,
        type: "content.post.created",
        attempts: 5,
        error: "scanner was down",
        replayedAt: null,
      },
    ]);
    const letterId = listed[0]?.id as string;

    expect(await run(() => commands["dead-letters"](config, ["replay", letterId]))).toEqual([
      { id: letterId, outcome: "applied" },
    ]);
    expect(await run(() => commands["dead-letters"](config, ["replay", "--all"]))).toEqual([]);
    expect(await run(() => commands["dead-letters"](config, ["replay", letterId]))).toEqual([
      { id: letterId, outcome: "duplicate" },
    ]);
    expect(await run(() => commands["dead-letters"](config, ["list"]))).toEqual([]);
    await expect(commands["dead-letters"](config, ["explode"])).rejects.toThrow(
      "usage: dead-letters list [--consumer <name>] [--all] | dead-letters replay <id>|--all",
    );
    await expect(commands.republish(config, ["--since", "yesterday"])).rejects.toThrow(
      "usage: republish --since <ISO 8601 time>",
    );
  });
});
