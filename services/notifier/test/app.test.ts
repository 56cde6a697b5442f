import { Code } from "@connectrpc/connect";
import { invalidTokenMessage, signInFirstMessage } from "@kindred/auth";
import { createTestSigner } from "@kindred/auth/testing";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import { NotifierService } from "@kindred/proto/notifier/v1";
import {
  clientFor,
  connectErrorOf,
  deleteNamespaceStreams,
  publishTestEvent,
  publishTestRevocation,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { loadNotifierConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
const userId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11";

describe("notifier", () => {
  it("records a delivery decision for every new post, once, and validates requests before the method", async () => {
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
    const invalid = await connectErrorOf(client.unregisterDevice({ deviceId: "device-1" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("device_id");
  });

  it("verifies access tokens itself: bad and revoked tokens are refused before the method", async () => {
    await using db = await createTestDatabase("notifier");
    const signer = await createTestSigner();
    const namespace = eventNamespace(uniqueName("notifier"));
    await using _streams = {
      [Symbol.asyncDispose]: () => deleteNamespaceStreams(testEnv.natsUrl, namespace),
    };
    const config = loadNotifierConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace.prefix, AUTH_JWKS: signer.jwks },
      }),
    );
    await using host = await startReady(buildApp(config).host);
    const client = clientFor(NotifierService, host);
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    // Every method is about the caller's own devices and preferences: anonymous calls are refused.
    const anonymous = await connectErrorOf(client.getPreferences({}));
    expect(anonymous).toMatchObject({ code: Code.Unauthenticated, rawMessage: signInFirstMessage });
    const valid = bearer(await signer.mint({ sub: userId, sid: "s-1", roles: ["member"] }));
    expect((await client.getPreferences({}, valid)).preferences?.kinds).toHaveLength(4);

    // A bad token is refused whatever the method, before the request is even validated.
    const forged = await (await createTestSigner({ kid: signer.kid })).mint({ sub: userId });
    const expired = await signer.mint({ sub: userId, expiresInSeconds: -60 });
    for (const token of [forged, expired, "garbage"]) {
      for (const call of [
        () => client.getPreferences({}, bearer(token)),
        () => client.unregisterDevice({ deviceId: "device-1" }, bearer(token)),
      ]) {
        const err = await connectErrorOf(call());
        expect(err).toMatchObject({ code: Code.Unauthenticated, rawMessage: invalidTokenMessage });
      }
    }

    // Revocations are followed without holding readiness: identity's stream is not there yet.
    const report = await host.readiness.report();
    expect(report.ready).toBe(true);
    expect(report.checks["session-revocations"]).toMatchObject({ critical: false });

    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace: namespace.prefix,
      sessionId: "s-1",
      tokensExpireAt: new Date(Date.now() + 600_000),
    });
    const refused = await waitFor(
      async () => {
        const err = await connectErrorOf(client.getPreferences({}, valid));
        return err.code === Code.Unauthenticated ? err : undefined;
      },
      { what: "the revocation applied" },
    );
    expect(refused.rawMessage).toBe(invalidTokenMessage);
  });
});
