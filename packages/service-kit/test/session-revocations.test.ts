import { setTimeout as sleep } from "node:timers/promises";
import { createAccessTokenVerifier, SessionRevokedError } from "@kindred/auth";
import { createTestSigner } from "@kindred/auth/testing";
import { loadServiceConfig } from "@kindred/config";
import { eventNamespace } from "@kindred/events";
import { testEnv, uniqueName, waitFor, waitUntil } from "@kindred/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  deleteNamespaceStreams,
  publishTestRevocation,
  ServiceKit,
  testServiceEnv,
} from "../src/index.ts";

const namespaces: string[] = [];
afterEach(async () => {
  for (const ns of namespaces.splice(0)) {
    await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(ns));
  }
});

function newNamespace(): string {
  const ns = uniqueName("rev");
  namespaces.push(ns);
  return ns;
}

/** A kit with NATS (not critical, as in content and the gateway) and the revocation feed. */
function kitWithRevocations(namespace: string, lookbackMs: number) {
  const config = loadServiceConfig(
    { defaults: { name: "kit", port: 0, healthPort: 0 }, uses: { nats: true } },
    testServiceEnv(),
  );
  const kit = new ServiceKit(config.server);
  const nats = kit.nats(config.nats, { critical: false });
  const revocations = kit.sessionRevocations(nats, { namespace, lookbackMs });
  const host = kit.host({ readinessCacheMs: 0 });
  const readyz = async () => {
    const res = await fetch(`${host.healthUrl}/readyz`);
    return {
      status: res.status,
      checks: ((await res.json()) as { checks: Record<string, Record<string, unknown>> }).checks,
    };
  };
  return { host, revocations, readyz };
}

const inTenMinutes = () => new Date(Date.now() + 600_000);

describe("ServiceKit.sessionRevocations", () => {
  it("applies recent revocations at start and new ones within seconds; the verifier refuses those sessions only", async () => {
    const namespace = newNamespace();
    const revoke = (sessionId: string, tokensExpireAt = inTenMinutes()) =>
      publishTestRevocation({ natsUrl: testEnv.natsUrl, namespace, sessionId, tokensExpireAt });
    // Published before the lookback window: its tokens are long expired by design; here it
    // shows the replay starts where the window does, not at the stream's first event.
    await revoke("s-too-old");
    await sleep(250);
    const windowStart = Date.now();
    await sleep(250);
    await revoke("s-before-start");
    // Revoked while its tokens have already expired: nothing left to refuse.
    await revoke("s-expired", new Date(Date.now() - 60_000));

    const { host, revocations, readyz } = kitWithRevocations(namespace, Date.now() - windowStart);
    await using _ = host;
    await host.start();
    await waitFor(() => revocations.isRevoked("s-before-start") || undefined, {
      what: "the revocation published before the start",
    });
    expect(revocations.isRevoked("s-too-old")).toBe(false);
    expect(revocations.isRevoked("s-expired")).toBe(false);

    const ready = await waitUntil(readyz, (r) => r.checks["session-revocations"]?.status === "up", {
      what: "the feed established",
    });
    expect(ready.status).toBe(200);
    expect(ready.checks["session-revocations"]).toMatchObject({
      status: "up",
      critical: false,
      details: { revokedSessions: 1 },
    });

    const published = Date.now();
    await revoke("s-after-start");
    await waitFor(() => revocations.isRevoked("s-after-start") || undefined, {
      what: "the revocation published after the start",
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    expect(Date.now() - published).toBeLessThan(5_000);

    const signer = await createTestSigner();
    const verifier = createAccessTokenVerifier(signer.settings, { revocations });
    const userId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
    for (const sid of ["s-before-start", "s-after-start"]) {
      const err = await verifier
        .verify(await signer.mint({ sub: userId, sid }))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "unauthenticated" });
      expect((err as Error).cause).toBeInstanceOf(SessionRevokedError);
    }
    for (const sid of ["s-other", "s-too-old", "s-expired"]) {
      expect(await verifier.verify(await signer.mint({ sub: userId, sid }))).toMatchObject({
        userId,
        sessionId: sid,
      });
    }
  });

  it("stays ready while the identity stream is missing, and catches up once it exists", async () => {
    const namespace = newNamespace();
    const { host, revocations, readyz } = kitWithRevocations(namespace, 900_000);
    await using _ = host;
    await host.start();

    const waiting = await waitUntil(readyz, (r) => r.checks.nats?.status === "up", {
      what: "NATS connected",
    });
    expect(waiting.status).toBe(200);
    expect(waiting.checks["session-revocations"]).toMatchObject({
      status: "down",
      critical: false,
      error: expect.stringContaining("not reading identity.session.revoked.v1 yet"),
    });

    // Identity starts and revokes a session: the feed finds the stream and applies it.
    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace,
      sessionId: "s-1",
      tokensExpireAt: inTenMinutes(),
    });
    await waitFor(() => revocations.isRevoked("s-1") || undefined, {
      what: "the revocation applied",
    });
    await waitUntil(readyz, (r) => r.checks["session-revocations"]?.status === "up", {
      what: "the feed established",
    });
  });
});
