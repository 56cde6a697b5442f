import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { contentEvents, identityEvents, identityStream } from "@kindred/event-catalog";
import { NotificationKind } from "@kindred/proto/notifier/v1";
import { waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { quietNow, startNotifier } from "./harness.ts";

describe("responses", () => {
  it("pushes a response to every device of the post's author, in their language, with ids only", async () => {
    await using h = await startNotifier();
    const author = await h.user();
    const responder = await h.user();
    const phone = await h.device(author, "ios", "de-AT");
    const tablet = await h.device(author, "android", "pt-BR");
    const own = await h.device(responder, "android");
    const body = "I hear you. You are not alone in this, call me tonight?";

    const { postId, circleId, responseId, meta } = await h.respond(
      { authorId: author.id },
      responder.id,
      body,
    );
    await waitFor(() => (h.pushed().length === 2 ? true : undefined), { what: "two pushes" });

    const [notification] = await h.notifications({ eventId: meta.id });
    expect(notification).toMatchObject({
      user_id: author.id,
      kind: "response",
      subject_kind: "response",
      subject_id: responseId,
      post_id: postId,
      actor_id: responder.id,
      circle_id: circleId,
    });
    const data = {
      kind: "response",
      notification_id: notification?.id,
      post_id: postId,
      response_id: responseId,
      circle_id: circleId,
    };
    const common = {
      body: "",
      data,
      priority: "normal",
      collapseKey: `post:${postId}`,
      ttlSeconds: 86_400,
      interruptionLevel: "active",
    };
    expect(h.ios.to(phone.token)).toEqual([
      { ...common, token: phone.token, title: "Jemand hat auf deinen Beitrag geantwortet" },
    ]);
    // A language without texts falls back to English.
    expect(h.android.to(tablet.token)).toEqual([
      { ...common, token: tablet.token, title: "Someone responded to your post" },
    ]);
    expect(h.android.to(own.token)).toEqual([]);
    h.expectNoUserText(body);

    await waitFor(async () => {
      const [n] = await h.notifications({ eventId: meta.id });
      return n?.status === "sent" ? n : undefined;
    });
    const [sent] = await h.notifications({ eventId: meta.id });
    expect(sent?.deliveries).toHaveLength(2);
    for (const d of sent?.deliveries ?? []) {
      expect(d).toMatchObject({ status: "sent", attempts: 1, reason: null });
      expect(d.provider_id).toMatch(/^(ios|android)-\d+$/);
    }
    expect(await h.deliveries("response", "sent")).toBe(2);

    // Responding to one's own post tells nobody.
    const self = await h.respond({ authorId: author.id }, author.id);
    expect(await h.notifications({ eventId: self.meta.id })).toEqual([]);
  });

  it("does not push across a block in either direction, and a new block drops what was queued", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const author = await h.user();
    const responder = await h.user();
    await h.device(author, "ios");
    const block = (blockerId: string, blockedId: string, at = new Date()) =>
      h.deliver(
        identityStream,
        identityEvents.userBlocked,
        { blockerId, blockedId, blockedAt: timestampFromDate(at) },
        blockerId,
      );
    const unblock = (blockerId: string, blockedId: string, at = new Date()) =>
      h.deliver(
        identityStream,
        identityEvents.userUnblocked,
        { blockerId, blockedId, unblockedAt: timestampFromDate(at) },
        blockerId,
      );

    // Queued before the block: dropped by it.
    const before = await h.respond({ authorId: author.id }, responder.id);
    expect((await h.notifications({ eventId: before.meta.id }))[0]?.status).toBe("queued");
    await block(author.id, responder.id);
    const [droppedByBlock] = await h.notifications({ eventId: before.meta.id });
    expect(droppedByBlock).toMatchObject({ status: "dropped", reason: "blocked" });
    expect(droppedByBlock?.deliveries).toMatchObject([{ status: "dropped", reason: "blocked" }]);

    // While the author blocks the responder, and while the responder blocks the author.
    const whileBlocked = await h.respond({ authorId: author.id }, responder.id);
    await unblock(author.id, responder.id);
    await block(responder.id, author.id);
    const reverse = await h.respond({ authorId: author.id }, responder.id);
    for (const { meta } of [whileBlocked, reverse]) {
      const [n] = await h.notifications({ eventId: meta.id });
      expect(n).toMatchObject({ status: "dropped", reason: "blocked", deliveries: [] });
    }

    // Once lifted on both sides, responses push again; an older block arriving late changes nothing.
    await unblock(responder.id, author.id);
    await block(author.id, responder.id, new Date(Date.now() - 60_000));
    const after = await h.respond({ authorId: author.id }, responder.id);
    expect((await h.notifications({ eventId: after.meta.id }))[0]?.status).toBe("queued");
    await h.drain();
    expect(h.pushed().map((m) => m.data.response_id)).toEqual([after.responseId]);
    expect(await h.deliveries("response", "dropped")).toBe(3);
  });

  it("records a response the author turned off as dropped, with the reason", async () => {
    await using h = await startNotifier();
    const author = await h.user();
    const responder = await h.user();
    const nobody = await h.user();
    await h.device(author, "android");
    await author.n.updatePreferences({
      kinds: [{ kind: NotificationKind.RESPONSE, pushEnabled: false }],
    });
    const { meta } = await h.respond({ authorId: author.id }, responder.id);
    expect(await h.notifications({ eventId: meta.id })).toMatchObject([
      {
        user_id: author.id,
        status: "dropped",
        reason: "push disabled for response",
        deliveries: [],
      },
    ]);
    // An author without any device: the log says so.
    const other = await h.respond({ authorId: nobody.id }, responder.id);
    expect(await h.notifications({ eventId: other.meta.id })).toMatchObject([
      { user_id: nobody.id, status: "dropped", reason: "no registered device" },
    ]);
    await h.app.dispatcher.drain();
    expect(h.pushed()).toEqual([]);
  });

  it("defers a response during the author's quiet hours to the end of the window", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const author = await h.user();
    const responder = await h.user();
    await h.device(author, "ios");
    const quiet = quietNow();
    await author.n.updatePreferences({ quietHours: quiet });
    const { meta } = await h.respond({ authorId: author.id }, responder.id);
    const start = Date.now();
    expect(await h.drain()).toBe(1);
    expect(h.pushed()).toEqual([]);
    const [n] = await h.notifications({ eventId: meta.id });
    expect(n?.status).toBe("queued");
    const d = n?.deliveries[0];
    expect(d).toMatchObject({ status: "queued", attempts: 0, lease_until: null });
    const wait = (d?.next_attempt_at.getTime() ?? 0) - start;
    expect(wait).toBeGreaterThan(58 * 60_000);
    expect(wait).toBeLessThanOrEqual(60 * 60_000);
    expect(await h.deliveries("response", "deferred")).toBe(1);
    // Not due again until then.
    expect(await h.drain()).toBe(0);
  });

  it("changes nothing when an event is delivered again", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const author = await h.user();
    const responder = await h.user();
    await h.device(author, "ios");
    await h.device(author, "android");
    const first = await h.respond({ authorId: author.id }, responder.id);
    await h.drain();
    expect(h.pushed()).toHaveLength(2);
    const before = await h.notifications();

    await h.redeliver(
      "notifier-response-created",
      first.meta,
      contentEvents.responseCreated,
      first.message,
    );
    await h.drain();
    expect(await h.notifications()).toEqual(before);
    expect(h.pushed()).toHaveLength(2);
  });
});
