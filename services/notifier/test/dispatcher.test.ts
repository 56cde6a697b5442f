import { Code } from "@connectrpc/connect";
import { connectErrorOf } from "@kindred/service-kit";
import { waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { startNotifier } from "./harness.ts";

describe("dispatcher", () => {
  it("removes a device whose token the provider refuses, dropping what else was queued for it", async () => {
    // One delivery per batch, so the first send to the dead token decides for the second.
    await using h = await startNotifier({
      autoDispatch: false,
      extra: { DISPATCH_BATCH_SIZE: "1" },
    });
    const author = await h.user();
    const responder = await h.user();
    const dead = await h.device(author, "ios");
    const alive = await h.device(author, "android");
    const first = await h.respond({ authorId: author.id }, responder.id);
    const second = await h.respond({ authorId: author.id }, responder.id);
    h.ios.answerFor(dead.token, { outcome: "invalid_token", reason: "BadDeviceToken" });

    await h.drain();
    expect(h.ios.to(dead.token)).toHaveLength(1);
    expect(h.android.to(alive.token)).toHaveLength(2);
    const rows = [
      ...(await h.notifications({ eventId: first.meta.id })),
      ...(await h.notifications({ eventId: second.meta.id })),
    ];
    const toDead = rows.flatMap((n) => n.deliveries).filter((d) => d.device_id === dead.id);
    expect(toDead.map((d) => [d.status, d.reason]).sort()).toEqual([
      ["dropped", "device unregistered"],
      ["failed", "invalid token: BadDeviceToken"],
    ]);
    for (const n of rows) expect(n.status).toBe("sent"); // the Android device got both
    expect(await connectErrorOf(author.n.unregisterDevice({ deviceId: dead.id }))).toMatchObject({
      code: Code.NotFound,
    });
    expect(await h.kysely.selectFrom("device").select("id").execute()).toEqual([{ id: alive.id }]);
  });

  it("reschedules after a retryable answer no earlier than Retry-After, then sends", async () => {
    await using h = await startNotifier({
      autoDispatch: false,
      extra: { DISPATCH_RETRY_BASE_MS: "10" },
    });
    const author = await h.user();
    const responder = await h.user();
    await h.device(author, "android");
    const { meta } = await h.respond({ authorId: author.id }, responder.id);
    h.android.answer({ outcome: "retry", reason: "429 QUOTA_EXCEEDED", retryAfterMs: 1_500 });

    const before = Date.now();
    expect(await h.drain()).toBe(1);
    const [n] = await h.notifications({ eventId: meta.id });
    expect(n?.status).toBe("queued");
    const d = n?.deliveries[0];
    expect(d).toMatchObject({
      status: "queued",
      attempts: 1,
      last_error: "429 QUOTA_EXCEEDED",
      lease_until: null,
    });
    expect(d?.next_attempt_at.getTime()).toBeGreaterThanOrEqual(before + 1_400);
    expect(await h.deliveries("response", "retried")).toBe(1);
    expect(await h.drain()).toBe(0); // not due yet

    await waitFor(async () => ((await h.drain()) > 0 ? true : undefined), {
      what: "the retry to be due",
      timeoutMs: 5_000,
    });
    const [sent] = await h.notifications({ eventId: meta.id });
    expect(sent).toMatchObject({ status: "sent", reason: null });
    expect(sent?.deliveries[0]).toMatchObject({ status: "sent", attempts: 2 });
    expect(h.android.messages).toHaveLength(2);
  });

  it("gives up after the maximum attempts, and stops at once on a permanent failure", async () => {
    await using h = await startNotifier({
      extra: { DISPATCH_MAX_ATTEMPTS: "3", DISPATCH_RETRY_BASE_MS: "5", DISPATCH_POLL_MS: "20" },
    });
    const author = await h.user();
    const responder = await h.user();
    const phone = await h.device(author, "ios");
    h.ios.answerFor(
      phone.token,
      { outcome: "retry", reason: "503 Service Unavailable" },
      { outcome: "retry", reason: "503 Service Unavailable" },
      { outcome: "retry", reason: "503 Service Unavailable" },
      { outcome: "failed", reason: "400 PayloadTooLarge" },
    );
    const { meta } = await h.respond({ authorId: author.id }, responder.id);
    const [failed] = await waitFor(async () => {
      const rows = await h.notifications({ eventId: meta.id });
      return rows[0]?.status === "failed" ? rows : undefined;
    });
    expect(failed).toMatchObject({
      reason: "gave up after 3 attempts: 503 Service Unavailable",
    });
    expect(failed?.deliveries[0]).toMatchObject({ status: "failed", attempts: 3 });
    expect(h.ios.to(phone.token)).toHaveLength(3);
    expect(await h.deliveries("response", "retried")).toBe(2);
    expect(await h.deliveries("response", "failed")).toBe(1);

    const next = await h.respond({ authorId: author.id }, responder.id);
    const [permanent] = await waitFor(async () => {
      const rows = await h.notifications({ eventId: next.meta.id });
      return rows[0]?.status === "failed" ? rows : undefined;
    });
    expect(permanent).toMatchObject({ reason: "400 PayloadTooLarge" });
    expect(permanent?.deliveries[0]).toMatchObject({ attempts: 1 });
  });

  it("drops a push for a platform without a provider, and one whose device went meanwhile", async () => {
    await using h = await startNotifier({ autoDispatch: false, platforms: ["ios"] });
    const author = await h.user();
    const responder = await h.user();
    const android = await h.device(author, "android");
    const ios = await h.device(author, "ios");
    const { meta } = await h.respond({ authorId: author.id }, responder.id);
    await author.n.unregisterDevice({ deviceId: ios.id });
    await h.drain();
    const [n] = await h.notifications({ eventId: meta.id });
    expect(n).toMatchObject({ status: "dropped" });
    expect(n?.deliveries.map((d) => [d.device_id, d.status, d.reason]).sort()).toEqual(
      [
        [android.id, "dropped", "no provider for android"],
        [ios.id, "dropped", "device unregistered"],
      ].sort(),
    );
    expect(h.pushed()).toEqual([]);
    const readiness = await h.app.host.readiness.report();
    expect(readiness.checks["push-queue"]).toMatchObject({ status: "up", critical: false });
  });
});
