import { Code } from "@connectrpc/connect";
import { invalidTokenMessage, signInFirstMessage } from "@kindred/auth";
import { createTestSigner } from "@kindred/auth/testing";
import { eventNamespace } from "@kindred/events";
import { CircleService } from "@kindred/proto/circles/v1";
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
import { createApp } from "../src/app.ts";
import { loadCirclesConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
const userId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11";

describe("circles", () => {
  it("migrates its own database, gets ready, and validates requests before anything else", async () => {
    await using db = await createTestDatabase("circles");
    const namespace = uniqueName("circles");
    await using _streams = {
      [Symbol.asyncDispose]: () =>
        deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace)),
    };
    await using host = await startReady(
      createApp(
        loadCirclesConfig(testServiceEnv({ database: db, extra: { EVENTS_NAMESPACE: namespace } })),
      ),
    );
    const client = clientFor(CircleService, host);

    // A valid request needs a signed-in caller.
    await expect(client.getCircle({ circleId: someId })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });

    const invalid = await connectErrorOf(client.getCircle({ circleId: "42" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("circle_id");
  });

  it("verifies access tokens itself: bad and revoked tokens are refused before the method", async () => {
    await using db = await createTestDatabase("circles");
    const signer = await createTestSigner();
    const namespace = uniqueName("circles");
    await using _streams = {
      [Symbol.asyncDispose]: () =>
        deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace)),
    };
    const config = loadCirclesConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace, AUTH_JWKS: signer.jwks },
      }),
    );
    await using host = await startReady(createApp(config));
    const client = clientFor(CircleService, host);
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    // Anonymous callers are told to sign in; signed-in ones reach the method (no such circle).
    const anonymous = await connectErrorOf(client.getCircle({ circleId: someId }));
    expect(anonymous).toMatchObject({ code: Code.Unauthenticated, rawMessage: signInFirstMessage });
    const valid = bearer(await signer.mint({ sub: userId, sid: "s-1", roles: ["member"] }));
    await expect(client.getCircle({ circleId: someId }, valid)).rejects.toMatchObject({
      code: Code.NotFound,
    });

    // A bad token is refused whatever the method, before the request is even validated.
    const forged = await (await createTestSigner({ kid: signer.kid })).mint({ sub: userId });
    const expired = await signer.mint({ sub: userId, expiresInSeconds: -60 });
    for (const token of [forged, expired, "garbage"]) {
      for (const circleId of [someId, "42"]) {
        const err = await connectErrorOf(client.getCircle({ circleId }, bearer(token)));
        expect(err).toMatchObject({ code: Code.Unauthenticated, rawMessage: invalidTokenMessage });
      }
    }

    // Revocations are followed without holding readiness: identity's stream is not there yet.
    const report = await host.readiness.report();
    expect(report.ready).toBe(true);
    expect(report.checks["session-revocations"]).toMatchObject({ critical: false });

    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace,
      sessionId: "s-1",
      tokensExpireAt: new Date(Date.now() + 600_000),
    });
    const refused = await waitFor(
      async () => {
        const err = await connectErrorOf(client.getCircle({ circleId: someId }, valid));
        return err.code === Code.Unauthenticated ? err : undefined;
      },
      { what: "the revocation applied" },
    );
    expect(refused.rawMessage).toBe(invalidTokenMessage);
  });
});
