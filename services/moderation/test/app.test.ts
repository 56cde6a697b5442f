import { Code } from "@connectrpc/connect";
import { invalidTokenMessage } from "@kindred/auth";
import { createTestSigner } from "@kindred/auth/testing";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import { ModerationService } from "@kindred/proto/moderation/v1";
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
import { loadModerationConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
const userId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11";

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

  it("verifies access tokens itself: bad and revoked tokens are refused before the method", async () => {
    await using db = await createTestDatabase("moderation");
    const signer = await createTestSigner();
    const namespace = eventNamespace(uniqueName("moderation"));
    await using _streams = {
      [Symbol.asyncDispose]: () => deleteNamespaceStreams(testEnv.natsUrl, namespace),
    };
    const config = loadModerationConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace.prefix, AUTH_JWKS: signer.jwks },
      }),
    );
    await using host = await startReady(buildApp(config).host);
    const client = clientFor(ModerationService, host);
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    // Anonymous and signed-in callers both reach the method (which a later issue implements).
    await expect(client.getCase({ caseId: someId })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });
    const valid = bearer(await signer.mint({ sub: userId, sid: "s-1", roles: ["member"] }));
    await expect(client.getCase({ caseId: someId }, valid)).rejects.toMatchObject({
      code: Code.Unimplemented,
    });

    // A bad token is refused whatever the method, before the request is even validated.
    const forged = await (await createTestSigner({ kid: signer.kid })).mint({ sub: userId });
    const expired = await signer.mint({ sub: userId, expiresInSeconds: -60 });
    for (const token of [forged, expired, "garbage"]) {
      for (const call of [
        () => client.getCase({ caseId: someId }, bearer(token)),
        () => client.getCase({ caseId: "case-1" }, bearer(token)),
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
        const err = await connectErrorOf(client.getCase({ caseId: someId }, valid));
        return err.code === Code.Unauthenticated ? err : undefined;
      },
      { what: "the revocation applied" },
    );
    expect(refused.rawMessage).toBe(invalidTokenMessage);
  });
});
