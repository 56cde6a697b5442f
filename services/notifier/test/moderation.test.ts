import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  contentEvents,
  contentStream,
  moderationEvents,
  moderationStream,
} from "@kindred/event-catalog";
import { RemovalReason } from "@kindred/proto/content/events/v1";
import {
  AccountRestrictionKind,
  DecisionAction,
  TargetKind,
} from "@kindred/proto/moderation/events/v1";
import { describe, expect, it } from "vitest";
import { type NotifierHarness, startNotifier } from "./harness.ts";

const note = "Your post broke rule 3 (graphic detail). Please use content warnings.";

async function decide(
  h: NotifierHarness,
  action: DecisionAction,
  target: { kind: TargetKind; id: string; postId?: string; circleId?: string; userId: string },
) {
  const decisionId = randomUUID();
  const caseId = randomUUID();
  const meta = await h.deliver(
    moderationStream,
    moderationEvents.decisionMade,
    {
      decisionId,
      caseId,
      action,
      target: { postId: "", circleId: "", ...target },
      affectedUserId: target.userId,
      note,
      decidedAt: timestampFromDate(new Date()),
    },
    caseId,
  );
  return { decisionId, meta };
}

async function restrict(
  h: NotifierHarness,
  userId: string,
  kind: AccountRestrictionKind,
  until?: Date,
) {
  return h.deliver(
    moderationStream,
    moderationEvents.accountRestricted,
    {
      userId,
      kind,
      caseId: randomUUID(),
      decidedAt: timestampFromDate(new Date()),
      ...(until === undefined ? {} : { until: timestampFromDate(until) }),
    },
    userId,
  );
}

describe("moderation", () => {
  it("tells the author of a removal, without the note, and drops the queued pushes about the removed post", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const author = await h.user();
    const responder = await h.user();
    const phone = await h.device(author, "ios");
    const circleId = randomUUID();
    const removed = randomUUID();
    const kept = randomUUID();
    const r1 = await h.respond({ postId: removed, circleId, authorId: author.id }, responder.id);
    const r2 = await h.respond({ postId: removed, circleId, authorId: author.id }, responder.id);
    const r3 = await h.respond({ postId: kept, circleId, authorId: author.id }, responder.id);

    const { decisionId, meta } = await decide(h, DecisionAction.REMOVE_CONTENT, {
      kind: TargetKind.POST,
      id: removed,
      postId: removed,
      circleId,
      userId: author.id,
    });
    for (const { meta: m } of [r1, r2]) {
      const [n] = await h.notifications({ eventId: m.id });
      expect(n).toMatchObject({ status: "dropped", reason: "content removed by moderation" });
    }
    expect((await h.notifications({ eventId: r3.meta.id }))[0]?.status).toBe("queued");
    const [decision] = await h.notifications({ eventId: meta.id });
    expect(decision).toMatchObject({
      user_id: author.id,
      kind: "moderation_decision",
      subject_kind: "decision",
      subject_id: decisionId,
      status: "queued",
    });

    await h.drain();
    const pushes = h.ios.to(phone.token);
    expect(pushes.map((m) => m.data.kind).sort()).toEqual(["moderation_decision", "response"]);
    expect(pushes.find((m) => m.data.kind === "moderation_decision")).toEqual({
      token: phone.token,
      title: "An update about your account or content",
      body: "",
      data: {
        kind: "moderation_decision",
        notification_id: decision?.id,
        decision_id: decisionId,
        circle_id: circleId,
      },
      priority: "normal",
      ttlSeconds: 86_400,
      interruptionLevel: "active",
    });
    expect(pushes.find((m) => m.data.kind === "response")?.data.post_id).toBe(kept);
    h.expectNoUserText(note, r1.message.body);
  });

  it("tells nobody about a dismissal", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const author = await h.user();
    await h.device(author, "android");
    const { meta } = await decide(h, DecisionAction.DISMISS, {
      kind: TargetKind.POST,
      id: randomUUID(),
      userId: author.id,
    });
    expect(await h.notifications({ eventId: meta.id })).toEqual([]);
    const warn = await decide(h, DecisionAction.WARN, {
      kind: TargetKind.USER,
      id: author.id,
      userId: author.id,
    });
    expect(await h.notifications({ eventId: warn.meta.id })).toMatchObject([{ status: "queued" }]);
  });

  it("drops queued pushes about removed posts and responses, whatever the reason", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const author = await h.user();
    const responder = await h.user();
    await h.device(author, "ios");
    const held = await h.respond({ authorId: author.id }, responder.id);
    const deleted = await h.respond({ authorId: author.id }, responder.id);
    const kept = await h.respond({ postId: deleted.postId, authorId: author.id }, responder.id);
    await h.deliver(
      contentStream,
      contentEvents.postRemoved,
      {
        postId: held.postId,
        circleId: held.circleId,
        authorId: author.id,
        reason: RemovalReason.HELD_FOR_REVIEW,
        version: 2n,
      },
      held.postId,
    );
    await h.deliver(
      contentStream,
      contentEvents.responseRemoved,
      {
        responseId: deleted.responseId,
        postId: deleted.postId,
        circleId: deleted.circleId,
        authorId: responder.id,
        removedBy: responder.id,
        reason: RemovalReason.AUTHOR,
      },
      deleted.postId,
    );
    expect((await h.notifications({ eventId: held.meta.id }))[0]).toMatchObject({
      status: "dropped",
      reason: "post removed",
    });
    expect((await h.notifications({ eventId: deleted.meta.id }))[0]).toMatchObject({
      status: "dropped",
      reason: "response removed",
    });
    await h.drain();
    expect(h.pushed().map((m) => m.data.response_id)).toEqual([kept.responseId]);
  });

  it("on a ban drops queued pushes to and from the user and every later one, until lifted", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const banned = await h.user();
    const other = await h.user();
    const third = await h.user();
    await h.device(banned, "ios");
    await h.device(other, "android");

    const toBanned = await h.respond({ authorId: banned.id }, other.id);
    const fromBanned = await h.respond({ authorId: other.id }, banned.id);
    const unrelated = await h.respond({ authorId: other.id }, third.id);
    const decision = await decide(h, DecisionAction.BAN, {
      kind: TargetKind.USER,
      id: banned.id,
      userId: banned.id,
    });
    await restrict(h, banned.id, AccountRestrictionKind.BANNED);

    for (const { meta } of [toBanned, fromBanned]) {
      const [n] = await h.notifications({ eventId: meta.id });
      expect(n).toMatchObject({ status: "dropped", reason: "account restricted" });
      expect(n?.deliveries).toMatchObject([{ status: "dropped", reason: "account restricted" }]);
    }
    expect((await h.notifications({ eventId: unrelated.meta.id }))[0]?.status).toBe("queued");
    // The decision itself still reaches them: it is about the ban.
    expect((await h.notifications({ eventId: decision.meta.id }))[0]?.status).toBe("queued");

    const laterTo = await h.respond({ authorId: banned.id }, third.id);
    const laterFrom = await h.respond({ authorId: other.id }, banned.id);
    expect((await h.notifications({ eventId: laterTo.meta.id }))[0]).toMatchObject({
      status: "dropped",
      reason: "account restricted",
    });
    expect((await h.notifications({ eventId: laterFrom.meta.id }))[0]).toMatchObject({
      status: "dropped",
      reason: "sender's account restricted",
    });
    await h.drain();
    expect(
      h
        .pushed()
        .map((m) => m.data.kind)
        .sort(),
    ).toEqual(["moderation_decision", "response"]);

    // A suspension that has ended restricts nothing; a lift ends a ban.
    await restrict(h, banned.id, AccountRestrictionKind.LIFTED);
    const afterLift = await h.respond({ authorId: banned.id }, third.id);
    expect((await h.notifications({ eventId: afterLift.meta.id }))[0]?.status).toBe("queued");
    await restrict(h, other.id, AccountRestrictionKind.SUSPENDED, new Date(Date.now() - 1_000));
    const afterSuspension = await h.respond({ authorId: other.id }, third.id);
    expect((await h.notifications({ eventId: afterSuspension.meta.id }))[0]?.status).toBe("queued");
  });
});
