import { Code } from "@connectrpc/connect";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import { NotifierService } from "@kindred/proto/notifier/v1";
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
import { loadNotifierConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";

describe("notifier", () => {
  it("records a delivery decision for every new post, once, and answers unimplemented for what issue 7 builds", async () => {
    await using db = await createTestDatabase("notifier");
    const namespace = eventNamespace(uniqueName("notifier"));
    await using _streams = {
      [Symbol.asyncDispose]: () => deleteNamespaceStreams(testEnv.natsUrl, namespace),
    };
    const app = buildApp(
      loadNotifierConfig(
        testServiceEnv({ database: db, extra: { EVENTS_NAMESPACE: namespace.prefix } }),
      ),
    );
    const event = await publishTestEvent({
      natsUrl: testEnv.natsUrl,
      namespace,
      stream: contentStream,
      event: contentEvents.postCreated,
      message: { postId: someId, circleId: someId, authorId: someId, body: "hello", version: 1n },
      aggregateId: someId,
    });
    await using host = await startReady(app.host);

    const queued = await waitFor(async () => {
      const rows = await app.events.database.kysely
        .selectFrom("delivery_decision")
        .selectAll()
        .execute();
      return rows.length > 0 ? rows : undefined;
    });
    expect(queued).toMatchObject([
      {
        event_id: event.id,
        event_type: "content.post.created",
        subject_id: someId,
        decision: "skip",
        reason: "new posts are not pushed by default",
      },
    ]);

    const client = clientFor(NotifierService, host);
    await expect(client.getPreferences({})).rejects.toMatchObject({ code: Code.Unimplemented });
    const invalid = await connectErrorOf(client.unregisterDevice({ deviceId: "device-1" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("device_id");
  });
});
