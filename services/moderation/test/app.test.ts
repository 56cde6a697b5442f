import { Code } from "@connectrpc/connect";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import { ModerationService } from "@kindred/proto/moderation/v1";
import {
  clientFor,
  connectErrorOf,
  deleteNamespaceStreams,
  publishTestEvent,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { loadModerationConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";

describe("moderation", () => {
  it("queues every new post for scanning, once, and answers unimplemented for what issue 6 builds", async () => {
    await using db = await createTestDatabase("moderation");
    const namespace = eventNamespace(uniqueName("moderation"));
    await using _streams = {
      [Symbol.asyncDispose]: () => deleteNamespaceStreams(testEnv.natsUrl, namespace),
    };
    const app = buildApp(
      loadModerationConfig(
        testServiceEnv({ database: db, extra: { EVENTS_NAMESPACE: namespace.prefix } }),
      ),
    );
    const event = await publishTestEvent({
      natsUrl: testEnv.natsUrl,
      namespace,
      stream: contentStream,
      event: contentEvents.postCreated,
      message: { postId: someId, circleId: someId, authorId: someId, body: "scan me", version: 1n },
      aggregateId: someId,
    });
    await using host = await startReady(app.host);

    const queued = await waitFor(async () => {
      const rows = await app.events.database.kysely.selectFrom("scan_item").selectAll().execute();
      return rows.length > 0 ? rows : undefined;
    });
    expect(queued).toMatchObject([
      {
        event_id: event.id,
        content_kind: "post",
        content_id: someId,
        body: "scan me",
        status: "pending",
      },
    ]);

    const client = clientFor(ModerationService, host);
    await expect(client.getCase({ caseId: someId })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });
    const invalid = await connectErrorOf(client.getCase({ caseId: "case-1" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("case_id");
  });
});
