import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createTestSigner } from "@kindred/auth/testing";
import { moderationEvents as moderation, moderationStream } from "@kindred/event-catalog";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import { publishTestRevocation, startReady } from "@kindred/service-kit";
import { testEnv, waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import {
  contentEvents,
  handledUpTo,
  openSocket,
  rawUpgrade,
  realtimeHost,
  type TestSocket,
} from "./helpers.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const caseId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9f01";

async function stillOpen(socket: TestSocket): Promise<void> {
  socket.send({ ref: "alive", ping: { nonce: "n" } });
  expect(await socket.next()).toMatchObject({ ref: "alive", pong: { nonce: "n" } });
}

describe("realtime forced closes", () => {
  it("closes every socket of a banned or suspended user with 4003 and leaves the others open", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    await using host = await startReady(realtimeHost(events.namespace));
    await using phone = await openSocket(host.url, { token: `token-${alice}` });
    await using laptop = await openSocket(host.url, { token: `token-${alice}` });
    await using ofBob = await openSocket(host.url, { token: `token-${bob}` });
    const restrict = (userId: string, kind: AccountRestrictionKind) =>
      events.publish(
        moderationStream,
        moderation.accountRestricted,
        { userId, kind, caseId, decidedAt: timestampFromDate(new Date()) },
        userId,
      );

    // An SOS restriction (and a lift) leaves the sockets open.
    await restrict(alice, AccountRestrictionKind.SOS_RESTRICTED);
    const lifted = await restrict(alice, AccountRestrictionKind.LIFTED);
    await handledUpTo(host, "moderation-events", moderation.accountRestricted.subject, lifted);
    await stillOpen(phone);
    await stillOpen(laptop);

    await restrict(alice, AccountRestrictionKind.BANNED);
    const closed = { code: 4003, reason: "account restricted" };
    expect(await phone.closed).toEqual(closed);
    expect(await laptop.closed).toEqual(closed);
    await stillOpen(ofBob);

    await restrict(bob, AccountRestrictionKind.SUSPENDED);
    expect(await ofBob.closed).toEqual(closed);
    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /^kindred_realtime_forced_closes_total\{reason="account_restricted"[^}]*\} 3$/m,
    );
    expect(metrics).toMatch(/^kindred_realtime_connections\{[^}]*\} 0$/m);
  });

  it("closes the sockets of a revoked session only, and refuses its token from then on", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    const signer = await createTestSigner();
    await using host = await startReady(
      realtimeHost(events.namespace, { withVerifier: false, extra: { AUTH_JWKS: signer.jwks } }),
    );
    const revoked = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a01";
    const kept = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a02";
    const tokenOf = (sub: string, sid: string) => signer.mint({ sub, sid });
    await using first = await openSocket(host.url, { token: await tokenOf(alice, revoked) });
    await using second = await openSocket(host.url, { token: await tokenOf(alice, revoked) });
    await using otherSession = await openSocket(host.url, { token: await tokenOf(alice, kept) });
    await using ofBob = await openSocket(host.url, {
      token: await tokenOf(bob, "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a03"),
    });

    // Identity publishes one SessionRevoked per session, also for "sign out everywhere".
    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace: events.namespace,
      sessionId: revoked,
      userId: alice,
      tokensExpireAt: new Date(Date.now() + 600_000),
    });
    const closed = { code: 4003, reason: "session revoked" };
    expect(await first.closed).toEqual(closed);
    expect(await second.closed).toEqual(closed);
    await stillOpen(otherSession);
    await stillOpen(ofBob);

    // The verifier's revocation list reads the same event on its own subscription.
    await waitFor(
      async () => {
        const again = await rawUpgrade(`${host.url}/v1/realtime`, {
          "sec-websocket-protocol": "kindred.v1.json",
          authorization: `Bearer ${await tokenOf(alice, revoked)}`,
        });
        return again.status === 401 ? true : undefined;
      },
      { what: "the revoked session's token refused" },
    );
    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /^kindred_realtime_forced_closes_total\{reason="session_revoked"[^}]*\} 2$/m,
    );
  });
});
