import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  contentEvents as content,
  contentStream,
  identityEvents as identity,
  identityStream,
  moderationEvents as moderation,
  moderationStream,
} from "@kindred/event-catalog";
import { RemovalReason } from "@kindred/proto/content/events/v1";
import { DecisionAction, TargetKind } from "@kindred/proto/moderation/events/v1";
import { startReady } from "@kindred/service-kit";
import { describe, expect, it } from "vitest";
import {
  contentEvents,
  everyoneIsMember,
  handledUpTo,
  openSocket,
  realtimeHost,
  realtimeHostWith,
  type TestSocket,
} from "./helpers.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const carol = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b03";
const circle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const otherCircle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c02";
const post = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01";
const response = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d02";
const decision = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9e01";
const occurredAt = "2026-11-25T12:00:00Z";

async function subscribed(socket: TestSocket, channel: string): Promise<void> {
  socket.send({ ref: "s", subscribe: { channel } });
  expect(await socket.next()).toMatchObject({ ref: "s", subscribed: { channel } });
}

describe("realtime fan-out", () => {
  it("drops removed posts and responses on the sockets of their circle, whatever the reason", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    await subscribed(socket, `circle:${circle}`);

    const removedAt = timestampFromDate(new Date());
    await events.publish(
      contentStream,
      content.postRemoved,
      {
        postId: post,
        circleId: otherCircle,
        authorId: bob,
        reason: RemovalReason.AUTHOR,
        removedAt,
        version: 2n,
      },
      post,
    );
    const reasons = [
      RemovalReason.HELD_FOR_REVIEW,
      RemovalReason.MODERATION,
      RemovalReason.CIRCLE_MODERATOR,
      RemovalReason.AUTHOR,
      RemovalReason.ACCOUNT_DELETED,
    ];
    for (const reason of reasons) {
      const sequence = await events.publish(
        contentStream,
        content.postRemoved,
        { postId: post, circleId: circle, authorId: bob, reason, removedAt, version: 2n },
        post,
      );
      expect(await socket.next()).toEqual({
        schemaVersion: "SCHEMA_VERSION_1",
        event: {
          channel: `circle:${circle}`,
          cursor: String(sequence),
          occurredAt,
          postRemoved: { postId: post, circleId: circle },
        },
      });
    }
    const sequence = await events.publish(
      contentStream,
      content.responseRemoved,
      {
        responseId: response,
        postId: post,
        circleId: circle,
        authorId: bob,
        removedBy: alice,
        reason: RemovalReason.CIRCLE_MODERATOR,
        removedAt,
      },
      post,
    );
    expect(await socket.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      event: {
        channel: `circle:${circle}`,
        cursor: String(sequence),
        occurredAt,
        responseRemoved: { responseId: response, postId: post, circleId: circle },
      },
    });
  });

  it("tells every socket of the affected user a moderation decision, and no one else", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(realtimeHost(events.namespace));
    await using phone = await openSocket(host.url, { token: `token-${alice}` });
    await using laptop = await openSocket(host.url, { token: `token-${alice}` });
    await using ofBob = await openSocket(host.url, { token: `token-${bob}` });

    // The MODERATION stream appears after realtime started (moderation deployed later): what it
    // stores from then on is delivered once realtime's subscription is established.
    await events.createAllStreams();
    const expiresAt = new Date("2026-12-02T12:00:00Z");
    const toAlice = await events.publish(
      moderationStream,
      moderation.decisionMade,
      {
        decisionId: decision,
        caseId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9f01",
        action: DecisionAction.SUSPEND,
        target: { kind: TargetKind.POST, id: post, postId: post, circleId: circle, userId: alice },
        affectedUserId: alice,
        note: "not shown in the frame",
        decidedAt: timestampFromDate(new Date()),
        expiresAt: timestampFromDate(expiresAt),
      },
      decision,
    );
    const outcome = {
      schemaVersion: "SCHEMA_VERSION_1",
      event: {
        channel: `user:${alice}`,
        cursor: String(toAlice),
        occurredAt,
        moderationOutcome: {
          decisionId: decision,
          action: "ACTION_SUSPEND",
          target: { kind: "TARGET_KIND_POST", id: post },
          expiresAt: "2026-12-02T12:00:00Z",
        },
      },
    };
    expect(await phone.next()).toEqual(outcome);
    expect(await laptop.next()).toEqual(outcome);

    const toBob = await events.publish(
      moderationStream,
      moderation.decisionMade,
      {
        decisionId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9e02",
        action: DecisionAction.WARN,
        target: { kind: TargetKind.USER, id: bob, userId: bob },
        affectedUserId: bob.toUpperCase(),
      },
      decision,
    );
    // Bob's first frame is his own decision: alice's never reached him.
    expect(await ofBob.next()).toMatchObject({
      event: {
        channel: `user:${bob}`,
        cursor: String(toBob),
        moderationOutcome: { action: "ACTION_WARN", target: { kind: "TARGET_KIND_USER", id: bob } },
      },
    });
    // A subscribe to one's own user channel answers with the moderation stream's cursor.
    phone.send({ ref: "me", subscribe: { channel: `user:${alice}` } });
    expect(await phone.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "me",
      subscribed: { channel: `user:${alice}`, cursor: String(toBob) },
    });
  });

  it("stops live delivery between two users as soon as one blocks the other, until unblocked", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    await using ofAlice = await openSocket(host.url, { token: `token-${alice}` });
    await using ofBob = await openSocket(host.url, { token: `token-${bob}` });
    await subscribed(ofAlice, `circle:${circle}`);
    await subscribed(ofBob, `circle:${circle}`);
    const postOf = (authorId: string, postId: string) =>
      events.publishPost({ postId, circleId: circle, authorId });
    const nextPost = async (socket: TestSocket) =>
      ((await socket.next()) as { event: { postCreated: { id: string; authorId: string } } }).event
        .postCreated;

    const blocked = await events.publish(
      identityStream,
      identity.userBlocked,
      { blockerId: alice, blockedId: bob, blockedAt: timestampFromDate(new Date()) },
      alice,
    );
    await handledUpTo(host, "identity-events", identity.userBlocked.subject, blocked);
    await postOf(bob, "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d11");
    await postOf(alice, "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d12");
    await postOf(carol, "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d13");
    // Each sees their own post and carol's, not the other's: the block holds both ways.
    expect((await nextPost(ofAlice)).authorId).toBe(alice);
    expect((await nextPost(ofAlice)).authorId).toBe(carol);
    expect((await nextPost(ofBob)).authorId).toBe(bob);
    expect((await nextPost(ofBob)).authorId).toBe(carol);

    // Other frames about the blocked user's content (a removal) carry none of it and still go.
    await events.publish(
      contentStream,
      content.postRemoved,
      {
        postId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d11",
        circleId: circle,
        authorId: bob,
        reason: RemovalReason.AUTHOR,
      },
      "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d11",
    );
    expect(await ofAlice.next()).toMatchObject({ event: { postRemoved: {} } });

    const unblocked = await events.publish(
      identityStream,
      identity.userUnblocked,
      { blockerId: alice, blockedId: bob, unblockedAt: timestampFromDate(new Date()) },
      alice,
    );
    await handledUpTo(host, "identity-events", identity.userUnblocked.subject, unblocked);
    await postOf(bob, "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d14");
    expect(await nextPost(ofAlice)).toMatchObject({
      id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d14",
      authorId: bob,
    });
  });
});
