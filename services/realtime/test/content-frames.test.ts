import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  contentEvents as content,
  contentStream,
  identityEvents as identity,
  identityStream,
} from "@kindred/event-catalog";
import { EscalationStage } from "@kindred/proto/content/v1";
import { startReady } from "@kindred/service-kit";
import { describe, expect, it } from "vitest";
import {
  contentEvents,
  everyoneIsMember,
  handledUpTo,
  openSocket,
  realtimeHostWith,
  type TestSocket,
} from "./helpers.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const carol = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b03";
const circle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const post = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01";
const response = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d02";
const alert = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9a01";
const channel = `circle:${circle}`;
const occurredAt = "2026-11-25T12:00:00Z";
const at = "2026-11-25T11:59:00Z";
const timestamp = timestampFromDate(new Date(at));

async function subscribed(socket: TestSocket): Promise<void> {
  socket.send({ ref: "s", subscribe: { channel } });
  expect(await socket.next()).toMatchObject({ ref: "s", subscribed: { channel } });
}

const frame = (cursor: number, event: Record<string, unknown>) => ({
  schemaVersion: "SCHEMA_VERSION_1",
  event: { channel, cursor: String(cursor), occurredAt, ...event },
});

describe("content frames", () => {
  it("sends edits, responses and every SOS step to the circle, as far as the events tell", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    await subscribed(socket);

    const updated = await events.publish(
      contentStream,
      content.postUpdated,
      {
        postId: post,
        circleId: circle,
        authorId: bob,
        body: "edited",
        contentWarning: "grief",
        updatedAt: timestamp,
        version: 3n,
      },
      post,
    );
    expect(await socket.next()).toEqual(
      frame(updated, {
        postUpdated: {
          id: post,
          circleId: circle,
          authorId: bob,
          body: "edited",
          contentWarning: "grief",
          version: "3",
          updatedAt: at,
        },
      }),
    );
    const responded = await events.publish(
      contentStream,
      content.responseCreated,
      {
        responseId: response,
        postId: post,
        circleId: circle,
        postAuthorId: bob,
        authorId: carol,
        body: "here for you",
        createdAt: timestamp,
      },
      post,
    );
    expect(await socket.next()).toEqual(
      frame(responded, {
        responseCreated: {
          id: response,
          postId: post,
          authorId: carol,
          body: "here for you",
          createdAt: at,
        },
      }),
    );

    const ids = { id: alert, circleId: circle, raisedBy: bob };
    const raised = await events.publish(
      contentStream,
      content.sosRaised,
      { alertId: alert, circleId: circle, raisedBy: bob, message: "please", raisedAt: timestamp },
      alert,
    );
    expect(await socket.next()).toEqual(
      frame(raised, {
        sosRaised: {
          ...ids,
          message: "please",
          status: "SOS_STATUS_RAISED",
          escalationStage: "ESCALATION_STAGE_CIRCLE",
          createdAt: at,
        },
      }),
    );
    const escalated = await events.publish(
      contentStream,
      content.sosEscalated,
      {
        alertId: alert,
        circleId: circle,
        raisedBy: bob,
        stage: EscalationStage.SECOND_WAVE,
        escalatedAt: timestamp,
      },
      alert,
    );
    expect(await socket.next()).toEqual(
      frame(escalated, {
        sosEscalated: {
          ...ids,
          status: "SOS_STATUS_ESCALATED",
          escalationStage: "ESCALATION_STAGE_SECOND_WAVE",
        },
      }),
    );
    const acknowledged = await events.publish(
      contentStream,
      content.sosAcknowledged,
      {
        alertId: alert,
        circleId: circle,
        raisedBy: bob,
        acknowledgedBy: carol,
        acknowledgedAt: timestamp,
      },
      alert,
    );
    expect(await socket.next()).toEqual(
      frame(acknowledged, {
        sosAcknowledged: {
          ...ids,
          status: "SOS_STATUS_ACKNOWLEDGED",
          acknowledgements: [{ userId: carol, acknowledgedAt: at }],
        },
      }),
    );
    const resolved = await events.publish(
      contentStream,
      content.sosResolved,
      { alertId: alert, circleId: circle, raisedBy: bob, resolvedBy: bob, resolvedAt: timestamp },
      alert,
    );
    expect(await socket.next()).toEqual(
      frame(resolved, {
        sosResolved: { ...ids, status: "SOS_STATUS_RESOLVED", resolvedAt: at },
      }),
    );
  });

  it("withholds edits and responses across a block; an SOS reaches everyone, without its words", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    await using ofAlice = await openSocket(host.url, { token: `token-${alice}` });
    await using ofCarol = await openSocket(host.url, { token: `token-${carol}` });
    await subscribed(ofAlice);
    await subscribed(ofCarol);
    // Bob blocked alice: neither sees the other's words live.
    const blocked = await events.publish(
      identityStream,
      identity.userBlocked,
      { blockerId: bob, blockedId: alice },
      bob,
    );
    await handledUpTo(host, "identity-events", identity.userBlocked.subject, blocked);

    await events.publish(
      contentStream,
      content.postUpdated,
      { postId: post, circleId: circle, authorId: bob, body: "edited", version: 2n },
      post,
    );
    await events.publish(
      contentStream,
      content.responseCreated,
      { responseId: response, postId: post, circleId: circle, authorId: bob, body: "hi" },
      post,
    );
    const raised = await events.publish(
      contentStream,
      content.sosRaised,
      { alertId: alert, circleId: circle, raisedBy: bob, message: "please", raisedAt: timestamp },
      alert,
    );
    expect(await ofCarol.next()).toMatchObject({ event: { postUpdated: { body: "edited" } } });
    expect(await ofCarol.next()).toMatchObject({ event: { responseCreated: { body: "hi" } } });
    expect(await ofCarol.next()).toMatchObject({ event: { sosRaised: { message: "please" } } });
    const hidden = await ofAlice.next();
    expect(hidden).toEqual(
      frame(raised, {
        sosRaised: {
          id: alert,
          circleId: circle,
          raisedBy: bob,
          status: "SOS_STATUS_RAISED",
          escalationStage: "ESCALATION_STAGE_CIRCLE",
          createdAt: at,
        },
      }),
    );
  });
});
