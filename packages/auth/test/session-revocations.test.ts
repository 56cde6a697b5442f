import { DomainError } from "@kindred/errors";
import { describe, expect, it } from "vitest";
import {
  createAccessTokenVerifier,
  invalidTokenMessage,
  SessionRevocations,
  SessionRevokedError,
} from "../src/index.ts";
import { createTestSigner } from "../src/testing.ts";

/** A clock the test moves by hand. */
function manualClock(start = Date.parse("2026-11-25T12:00:00Z")) {
  let now = start;
  return {
    now: () => now,
    at: (offsetMs: number) => new Date(start + offsetMs),
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("SessionRevocations", () => {
  it("refuses a revoked session until its tokens expire, plus the clock tolerance", () => {
    const clock = manualClock();
    const list = new SessionRevocations({ now: clock.now, toleranceMs: 5_000 });
    list.revoke("s-1", clock.at(60_000));
    expect(list.isRevoked("s-1")).toBe(true);
    expect(list.isRevoked("s-2")).toBe(false);
    expect(list.isRevoked("s-1", clock.at(64_999))).toBe(true);
    expect(list.isRevoked("s-1", clock.at(65_000))).toBe(false);
    clock.advance(65_000);
    expect(list.isRevoked("s-1")).toBe(false);
  });

  it("keeps the later end when a session is revoked twice", () => {
    const clock = manualClock();
    const list = new SessionRevocations({ now: clock.now, toleranceMs: 0 });
    list.revoke("s-1", clock.at(60_000));
    list.revoke("s-1", clock.at(30_000));
    expect(list.isRevoked("s-1", clock.at(45_000))).toBe(true);
    list.revoke("s-1", clock.at(90_000));
    expect(list.isRevoked("s-1", clock.at(75_000))).toBe(true);
    expect(list.size).toBe(1);
  });

  it("ignores a revocation that has already run out, or has no valid end", () => {
    const clock = manualClock();
    const list = new SessionRevocations({ now: clock.now, toleranceMs: 5_000 });
    list.revoke("old", clock.at(-10_000));
    list.revoke("nan", new Date(Number.NaN));
    expect(list.size).toBe(0);
    // Within the tolerance it still counts: a token that expired 3 s ago is still accepted.
    list.revoke("recent", clock.at(-3_000));
    expect(list.isRevoked("recent")).toBe(true);
  });

  it("drops entries that ran out, so memory stays bounded", () => {
    const clock = manualClock();
    const list = new SessionRevocations({
      now: clock.now,
      toleranceMs: 0,
      pruneIntervalMs: 60_000,
    });
    for (let i = 0; i < 1_000; i++) list.revoke(`short-${i}`, clock.at(30_000));
    list.revoke("long", clock.at(600_000));
    expect(list.size).toBe(1_001);

    // Before the prune interval, ran-out entries are only invisible; then a revoke prunes.
    clock.advance(59_000);
    list.revoke("another", clock.at(600_000));
    expect(list.size).toBe(1_002);
    expect(list.isRevoked("short-1")).toBe(false);
    clock.advance(1_000);
    list.revoke("third", clock.at(600_000));
    expect(list.size).toBe(3);
    expect(list.isRevoked("long")).toBe(true);

    // An explicit prune works at any time.
    clock.advance(600_000);
    expect(list.prune()).toBe(3);
    expect(list.size).toBe(0);
  });
});

describe("createAccessTokenVerifier with a revocation list", () => {
  it("refuses a valid token of a revoked session and accepts the others", async () => {
    const signer = await createTestSigner();
    const revocations = new SessionRevocations();
    const verifier = createAccessTokenVerifier(signer.settings, { revocations });
    const revoked = await signer.mint({ sub: "user-1", sid: "s-revoked" });
    const other = await signer.mint({ sub: "user-1", sid: "s-other" });
    const noSession = await signer.mint({ sub: "user-2" });

    expect((await verifier.verify(revoked)).sessionId).toBe("s-revoked");
    revocations.revoke("s-revoked", new Date(Date.now() + 600_000));

    const err = await verifier.verify(revoked).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: "unauthenticated", message: invalidTokenMessage });
    const cause = (err as DomainError).cause;
    expect(cause).toBeInstanceOf(SessionRevokedError);
    expect(cause).toMatchObject({ message: "session revoked", sessionId: "s-revoked" });

    expect((await verifier.verify(other)).sessionId).toBe("s-other");
    expect((await verifier.verify(noSession)).userId).toBe("user-2");
  });

  it("checks the signature first: a forged token naming a revoked sid is refused as forged", async () => {
    const signer = await createTestSigner();
    const revocations = new SessionRevocations();
    revocations.revoke("s-1", new Date(Date.now() + 600_000));
    const verifier = createAccessTokenVerifier(signer.settings, { revocations });
    const forged = await (await createTestSigner()).mint({ sub: "u", sid: "s-1" });
    const err = (await verifier.verify(forged).catch((e: unknown) => e)) as DomainError;
    expect(err.cause).not.toBeInstanceOf(SessionRevokedError);
  });
});
