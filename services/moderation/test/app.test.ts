import { Code } from "@connectrpc/connect";
import { invalidTokenMessage } from "@kindred/auth";
import { createTestSigner } from "@kindred/auth/testing";
import { eventNamespace } from "@kindred/events";
import { ModerationService } from "@kindred/proto/moderation/v1";
import {
  clientFor,
  connectErrorOf,
  deleteNamespaceStreams,
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

    // Anonymous callers are asked to sign in; a signed-in member reaches the method, which
    // refuses them: they moderate nothing.
    await expect(client.getCase({ caseId: someId })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    const valid = bearer(await signer.mint({ sub: userId, sid: "s-1", roles: ["member"] }));
    await expect(client.getCase({ caseId: someId }, valid)).rejects.toMatchObject({
      code: Code.PermissionDenied,
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
