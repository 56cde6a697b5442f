import { randomBytes } from "node:crypto";
import { Platform } from "@kindred/proto/notifier/v1";
import { waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { startNotifier } from "./harness.ts";
import { FakeApns, fakeApnsCa, generateApnsKey } from "./push/fake-apns.ts";
import { FakeFcm, fcmReplies } from "./push/fake-fcm.ts";

const teamId = "TEAM123456";
const keyId = "KEY1234567";
const bundleId = "app.kindred.ios";

/**
 * The notifier with the APNs and FCM providers its config describes, against the local fakes
 * that speak Apple's HTTP/2 protocol (TLS, provider JWT) and FCM HTTP v1 (OAuth service account).
 */
describe("pushes through the configured providers", () => {
  it("delivers a response to an iPhone over APNs and an Android phone over FCM, with no user text, and prunes a dead token", async () => {
    const key = await generateApnsKey();
    await using apns = await FakeApns.start({ teamId, keyId, publicKey: key.publicKey, bundleId });
    await using fcm = await FakeFcm.start();
    await using h = await startNotifier({
      configuredProviders: true,
      extra: {
        APNS_URL: apns.url,
        APNS_TEAM_ID: teamId,
        APNS_KEY_ID: keyId,
        APNS_PRIVATE_KEY: key.privateKeyPem,
        APNS_BUNDLE_ID: bundleId,
        APNS_CA: fakeApnsCa,
        FCM_URL: fcm.url,
        FCM_SERVICE_ACCOUNT: fcm.serviceAccount.json,
      },
    });
    const author = await h.user();
    const iphone = randomBytes(32).toString("hex");
    const android = `fcm-token-${randomBytes(16).toString("hex")}`;
    for (const [platform, token] of [
      [Platform.IOS, iphone],
      [Platform.ANDROID, android],
    ] as const) {
      await author.n.registerDevice({ platform, token, locale: "en-GB", appVersion: "1.4.2" });
    }
    const words = "I hear you, you are not alone, call me tonight";
    const { responseId } = await h.respond({ authorId: author.id }, (await h.user()).id, words);

    await waitFor(
      () => (apns.delivered.length === 1 && fcm.sends.length === 1 ? true : undefined),
      {
        what: "one push on each platform",
      },
    );
    const ios = apns.delivered[0];
    expect(ios?.token).toBe(iphone);
    expect(ios?.headers["apns-topic"]).toBe(bundleId);
    expect(ios?.headers["apns-push-type"]).toBe("alert");
    expect(ios?.raw).toContain(responseId);
    expect(ios?.raw).not.toContain("not alone");
    const sent = fcm.sends[0]?.body as { message: { token: string; data: Record<string, string> } };
    expect(sent.message.token).toBe(android);
    expect(sent.message.data.response_id).toBe(responseId);
    expect(JSON.stringify(sent)).not.toContain("not alone");
    await waitFor(
      async () => {
        const rows = await h.notifications({ userId: author.id });
        return rows[0]?.status === "sent" ? rows : undefined;
      },
      { what: "the notification marked sent" },
    );

    // FCM says the Android token is gone: the device is removed at once.
    fcm.failDeviceToken(android, fcmReplies.unregistered());
    await h.respond({ authorId: author.id }, (await h.user()).id);
    await waitFor(
      async () => {
        const left = await h.app.deps.db.kysely
          .selectFrom("device")
          .select("token")
          .where("user_id", "=", author.id)
          .execute();
        return left.length === 1 && left[0]?.token === iphone ? true : undefined;
      },
      { what: "the dead Android token pruned" },
    );
    expect(apns.delivered).toHaveLength(2);
  });
});
