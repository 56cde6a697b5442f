import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { Platform } from "@kindred/proto/notifier/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { describe, expect, it } from "vitest";
import { startNotifier } from "./harness.ts";

describe("devices", () => {
  it("registers a device, updates it when its token comes again, and unregisters only the caller's own", async () => {
    await using h = await startNotifier();
    const alice = await h.user();
    const bob = await h.user();

    const { device } = await alice.n.registerDevice({
      platform: Platform.IOS,
      token: "apns-token-1",
      locale: "en-GB",
      appVersion: "1.4.2",
    });
    expect(device).toMatchObject({ platform: Platform.IOS, locale: "en-GB", appVersion: "1.4.2" });
    expect(device?.id).toMatch(/^[0-9a-f-]{36}$/);
    const seen = (t: Parameters<typeof timestampDate>[0] | undefined) =>
      t === undefined ? 0 : timestampDate(t).getTime();

    // The same token again (the app starts, or updates): the same device, refreshed.
    const { device: again } = await alice.n.registerDevice({
      platform: Platform.IOS,
      token: "apns-token-1",
      locale: "de-DE",
      appVersion: "1.5.0",
    });
    expect(again).toMatchObject({ id: device?.id, locale: "de-DE", appVersion: "1.5.0" });
    expect(again?.createdAt).toEqual(device?.createdAt);
    expect(seen(again?.lastSeenAt)).toBeGreaterThan(seen(device?.lastSeenAt));
    expect(await h.kysely.selectFrom("device").selectAll().execute()).toHaveLength(1);

    // Someone else's device is not found, like one that does not exist.
    // Thunks, so that no call's rejection waits unhandled while another is awaited.
    for (const call of [
      () => bob.n.unregisterDevice({ deviceId: device?.id ?? "" }),
      () => alice.n.unregisterDevice({ deviceId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10" }),
    ]) {
      const err = await connectErrorOf(call());
      expect(err).toMatchObject({ code: Code.NotFound, rawMessage: "device not found" });
    }
    expect(await connectErrorOf(alice.n.unregisterDevice({ deviceId: "nope" }))).toMatchObject({
      code: Code.InvalidArgument,
    });
    expect(
      await connectErrorOf(
        h.anonymous.registerDevice({
          platform: Platform.ANDROID,
          token: "t",
          locale: "en",
          appVersion: "1",
        }),
      ),
    ).toMatchObject({ code: Code.Unauthenticated });

    await alice.n.unregisterDevice({ deviceId: device?.id ?? "" });
    expect(await h.kysely.selectFrom("device").selectAll().execute()).toHaveLength(0);
    expect(
      await connectErrorOf(alice.n.unregisterDevice({ deviceId: device?.id ?? "" })),
    ).toMatchObject({ code: Code.NotFound });
  });

  it("moves a token registered by another user to the caller, dropping what was queued for the previous owner", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const alice = await h.user();
    const bob = await h.user();
    const responder = await h.user();
    const phone = await h.device(alice, "android");
    await h.respond({ authorId: alice.id }, responder.id);
    const [queued] = await h.notifications({ userId: alice.id });
    expect(queued?.deliveries).toMatchObject([{ device_id: phone.id, status: "queued" }]);

    // The phone changes hands: Bob signs in on it, and the app registers the same token.
    const { device } = await bob.n.registerDevice({
      platform: Platform.ANDROID,
      token: phone.token,
      locale: "en-US",
      appVersion: "2.0.0",
    });
    expect(device?.id).not.toBe(phone.id);
    const devices = await h.kysely.selectFrom("device").select(["user_id", "token"]).execute();
    expect(devices).toEqual([{ user_id: bob.id, token: phone.token }]);
    expect(await connectErrorOf(alice.n.unregisterDevice({ deviceId: phone.id }))).toMatchObject({
      code: Code.NotFound,
    });

    const [dropped] = await h.notifications({ userId: alice.id });
    expect(dropped).toMatchObject({ status: "dropped", reason: "device moved to another account" });
    expect(dropped?.deliveries).toMatchObject([
      { status: "dropped", reason: "device moved to another account" },
    ]);
    await h.drain();
    expect(h.pushed()).toEqual([]);
  });

  it("keeps at most DEVICES_PER_USER devices: one more replaces the least recently seen", async () => {
    await using h = await startNotifier({ extra: { DEVICES_PER_USER: "2" } });
    const alice = await h.user();
    const first = await h.device(alice, "ios");
    const second = await h.device(alice, "android");
    const third = await h.device(alice, "ios");
    const ids = (await h.kysely.selectFrom("device").select("id").orderBy("id").execute()).map(
      (d) => d.id,
    );
    expect(ids).toEqual([second.id, third.id].sort());
    expect(await connectErrorOf(alice.n.unregisterDevice({ deviceId: first.id }))).toMatchObject({
      code: Code.NotFound,
    });
  });
});
