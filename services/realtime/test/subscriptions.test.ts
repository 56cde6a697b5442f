import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { circlesEvents as circles, circlesStream } from "@kindred/event-catalog";
import { CircleRole } from "@kindred/proto/circles/v1";
import { ErrorCode } from "@kindred/proto/realtime/v1";
import { startReady } from "@kindred/service-kit";
import { describe, expect, it } from "vitest";
import type { Admission, CircleAccess } from "../src/circle-access.ts";
import {
  contentEvents,
  createCirclesStream,
  FakeMembership,
  handledUpTo,
  openSocket,
  realtimeHostWith,
  type TestSocket,
} from "./helpers.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const carol = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b03";
const dave = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b04";
const circle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const otherCircle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c02";
const channel = `circle:${circle}`;
const occurredAt = "2026-11-25T12:00:00Z";

/** A promise and the function that resolves it. */
function deferred() {
  let release = () => {};
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

async function subscribed(socket: TestSocket, to = channel): Promise<void> {
  socket.send({ ref: "s", subscribe: { channel: to } });
  expect(await socket.next()).toMatchObject({ ref: "s", subscribed: { channel: to } });
}

/** A ping and its pong: every frame sent before the pong has been read. */
async function roundTrip(socket: TestSocket, nonce = "n"): Promise<void> {
  socket.send({ ref: "rt", ping: { nonce } });
  expect(await socket.next()).toEqual({
    schemaVersion: "SCHEMA_VERSION_1",
    ref: "rt",
    pong: { nonce },
  });
}

describe("circle subscriptions", () => {
  it("subscribes members only, asking with the client's token while other messages go on", async () => {
    await using events = await contentEvents();
    await events.createStream();
    const membership = new FakeMembership().add(circle, alice);
    const gate = deferred();
    membership.gate = gate.promise;
    await using host = await startReady(realtimeHostWith(events.namespace, { access: membership }));
    await using ofAlice = await openSocket(host.url, { token: `token-${alice}` });

    ofAlice.send({ ref: "s1", subscribe: { channel: `circle:${circle.toUpperCase()}` } });
    // While circles is asked, the connection answers other messages; a second subscribe to the
    // same channel is ignored (the first one's answer is coming).
    await roundTrip(ofAlice, "meanwhile");
    ofAlice.send({ ref: "s2", subscribe: { channel } });
    await roundTrip(ofAlice, "still");
    expect(membership.tokens).toEqual([`token-${alice}`]);
    gate.release();
    expect(await ofAlice.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "s1",
      subscribed: { channel, cursor: "0" },
    });
    const sequence = await events.publishPost({
      postId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01",
      circleId: circle,
    });
    expect(await ofAlice.next()).toMatchObject({
      event: { channel, cursor: String(sequence), postCreated: {} },
    });

    // Not a member: refused, and nothing of the circle reaches the socket.
    await using ofBob = await openSocket(host.url, { token: `token-${bob}` });
    ofBob.send({ ref: "b1", subscribe: { channel } });
    expect(await ofBob.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "b1",
      error: {
        code: "ERROR_CODE_PERMISSION_DENIED",
        message: "only members of this circle can subscribe to it",
        channel,
      },
    });
    await events.publishPost({ postId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d02", circleId: circle });
    expect(await ofAlice.next()).toMatchObject({ event: { postCreated: {} } });
    await roundTrip(ofBob);
    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^kindred_realtime_subscriptions\{[^}]*\} 1$/m);
  });

  it("passes on circles' refusals and failures as error frames, without a subscription", async () => {
    await using events = await contentEvents();
    await events.createStream();
    const answers: Record<string, Admission> = {
      [circle]: { allowed: false, code: ErrorCode.NOT_FOUND, message: "circle not found" },
      [otherCircle]: {
        allowed: false,
        code: ErrorCode.INTERNAL,
        message: "could not check your membership of this circle; try again",
      },
    };
    const access: CircleAccess = {
      admit: async (_userId, circleId) =>
        answers[circleId] ?? { allowed: false, code: ErrorCode.INTERNAL, message: "?" },
      forget: () => {},
    };
    await using host = await startReady(realtimeHostWith(events.namespace, { access }));
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    socket.send({ ref: "a", subscribe: { channel } });
    expect(await socket.next()).toMatchObject({
      ref: "a",
      error: { code: "ERROR_CODE_NOT_FOUND", message: "circle not found", channel },
    });
    socket.send({ ref: "b", subscribe: { channel: `circle:${otherCircle}` } });
    expect(await socket.next()).toMatchObject({
      ref: "b",
      error: { code: "ERROR_CODE_INTERNAL", channel: `circle:${otherCircle}` },
    });
    await events.publishPost({ postId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01", circleId: circle });
    await roundTrip(socket);
  });

  it("counts subscribes under way against the limit, and drops one the client unsubscribed", async () => {
    await using events = await contentEvents();
    await events.createStream();
    const membership = new FakeMembership().add(circle, alice).add(otherCircle, alice);
    const gate = deferred();
    membership.gate = gate.promise;
    await using host = await startReady(
      realtimeHostWith(
        events.namespace,
        { access: membership },
        { REALTIME_MAX_SUBSCRIPTIONS: "1" },
      ),
    );
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    socket.send({ ref: "a", subscribe: { channel } });
    socket.send({ ref: "b", subscribe: { channel: `circle:${otherCircle}` } });
    expect(await socket.next()).toMatchObject({
      ref: "b",
      error: { code: "ERROR_CODE_LIMIT_EXCEEDED" },
    });
    socket.send({ ref: "u", unsubscribe: { channel } });
    expect(await socket.next()).toMatchObject({
      ref: "u",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_REQUESTED" },
    });
    gate.release();
    await events.publishPost({ postId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01", circleId: circle });
    // No subscribed frame and no post: the answer that came after the unsubscribe was dropped.
    await roundTrip(socket);
    await subscribed(socket, `circle:${otherCircle}`);
  });

  it("ends subscriptions live on leave, removal, ban and archive, and tells the others", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await createCirclesStream(events.namespace);
    const membership = new FakeMembership()
      .add(circle, alice, bob, carol, dave)
      .add(otherCircle, bob);
    await using host = await startReady(realtimeHostWith(events.namespace, { access: membership }));
    await using ofAlice = await openSocket(host.url, { token: `token-${alice}` });
    await using bobsPhone = await openSocket(host.url, { token: `token-${bob}` });
    await using bobsLaptop = await openSocket(host.url, { token: `token-${bob}` });
    await using bobElsewhere = await openSocket(host.url, { token: `token-${bob}` });
    await using ofCarol = await openSocket(host.url, { token: `token-${carol}` });
    await using ofDave = await openSocket(host.url, { token: `token-${dave}` });
    for (const socket of [ofAlice, bobsPhone, bobsLaptop, ofCarol, ofDave])
      await subscribed(socket);
    await subscribed(bobElsewhere, `circle:${otherCircle}`);

    // Membership frames carry the channel's content cursor at the time (no post yet: 0).
    let cursor = "0";
    const membershipChanged = (fields: Record<string, unknown>, version: number) => ({
      schemaVersion: "SCHEMA_VERSION_1",
      event: {
        channel,
        cursor,
        occurredAt,
        membershipChanged: { circleId: circle, circleVersion: String(version), ...fields },
      },
    });

    await events.publish(
      circlesStream,
      circles.memberLeft,
      { circleId: circle, userId: bob, leftAt: timestampFromDate(new Date()), circleVersion: 7n },
      circle,
    );
    const leftBob = {
      schemaVersion: "SCHEMA_VERSION_1",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_LEFT" },
    };
    expect(await bobsPhone.next()).toEqual(leftBob);
    expect(await bobsLaptop.next()).toEqual(leftBob);
    const left = membershipChanged({ kind: "MEMBERSHIP_CHANGE_KIND_LEFT", userId: bob }, 7);
    for (const socket of [ofAlice, ofCarol, ofDave]) expect(await socket.next()).toEqual(left);
    expect(membership.forgotten).toEqual([`${circle}:${bob}`]);
    // Bob's subscription to another circle stays; the circle's posts no longer reach him.
    cursor = String(
      await events.publishPost({
        postId: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9d01",
        circleId: circle,
      }),
    );
    for (const socket of [ofAlice, ofCarol, ofDave]) {
      expect(await socket.next()).toMatchObject({ event: { cursor, postCreated: {} } });
    }
    await roundTrip(bobsPhone);
    await roundTrip(bobElsewhere);

    await events.publish(
      circlesStream,
      circles.memberRemoved,
      {
        circleId: circle,
        userId: carol,
        removedBy: alice,
        bannedUntil: timestampFromDate(new Date("2026-12-25T00:00:00Z")),
        circleVersion: 8n,
      },
      circle,
    );
    expect(await ofCarol.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_BANNED" },
    });
    const banned = membershipChanged({ kind: "MEMBERSHIP_CHANGE_KIND_BANNED", userId: carol }, 8);
    expect(await ofAlice.next()).toEqual(banned);
    expect(await ofDave.next()).toEqual(banned);
    await events.publish(
      circlesStream,
      circles.memberRemoved,
      { circleId: circle, userId: dave, removedBy: alice, circleVersion: 9n },
      circle,
    );
    expect(await ofDave.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_REMOVED" },
    });
    expect(await ofAlice.next()).toEqual(
      membershipChanged({ kind: "MEMBERSHIP_CHANGE_KIND_REMOVED", userId: dave }, 9),
    );

    // Joins and role changes are told; nobody's subscription ends.
    const joined = await events.publish(
      circlesStream,
      circles.memberJoined,
      { circleId: circle, userId: bob, role: CircleRole.MEMBER, circleVersion: 10n },
      circle,
    );
    expect(await ofAlice.next()).toEqual(
      membershipChanged(
        { kind: "MEMBERSHIP_CHANGE_KIND_JOINED", userId: bob, role: "CIRCLE_ROLE_MEMBER" },
        10,
      ),
    );
    await handledUpTo(host, "circles-events", circles.memberJoined.subject, joined);
    await subscribed(bobsPhone);
    await events.publish(
      circlesStream,
      circles.memberRoleChanged,
      {
        circleId: circle,
        userId: bob,
        role: CircleRole.MODERATOR,
        changedBy: alice,
        circleVersion: 11n,
      },
      circle,
    );
    const promoted = membershipChanged(
      { kind: "MEMBERSHIP_CHANGE_KIND_ROLE_CHANGED", userId: bob, role: "CIRCLE_ROLE_MODERATOR" },
      11,
    );
    expect(await ofAlice.next()).toEqual(promoted);
    expect(await bobsPhone.next()).toEqual(promoted);

    // An archive tells every subscriber why, then ends every subscription to the circle.
    await events.publish(
      circlesStream,
      circles.circleArchived,
      { circleId: circle, archivedBy: alice, circleVersion: 12n },
      circle,
    );
    for (const socket of [ofAlice, bobsPhone]) {
      expect(await socket.next()).toEqual(
        membershipChanged({ kind: "MEMBERSHIP_CHANGE_KIND_CIRCLE_ARCHIVED" }, 12),
      );
      expect(await socket.next()).toEqual({
        schemaVersion: "SCHEMA_VERSION_1",
        unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_CIRCLE_ARCHIVED" },
      });
    }
    expect(membership.forgotten).toContain(circle);
    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^kindred_realtime_subscriptions\{[^}]*\} 1$/m);
  });

  it("asks again when a membership event arrives while circles is asked", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await createCirclesStream(events.namespace);
    // Circles answered "member" just before bob left; asked again, it knows.
    const gate = deferred();
    const asked: string[] = [];
    const access: CircleAccess = {
      async admit(userId) {
        asked.push(userId);
        if (asked.length === 1) {
          await gate.promise;
          return { allowed: true };
        }
        return {
          allowed: false,
          code: ErrorCode.PERMISSION_DENIED,
          message: "only members of this circle can subscribe to it",
        };
      },
      forget: () => {},
    };
    await using host = await startReady(realtimeHostWith(events.namespace, { access }));
    await using ofBob = await openSocket(host.url, { token: `token-${bob}` });
    ofBob.send({ ref: "s", subscribe: { channel } });
    await roundTrip(ofBob);
    const left = await events.publish(
      circlesStream,
      circles.memberLeft,
      { circleId: circle, userId: bob, circleVersion: 3n },
      circle,
    );
    await handledUpTo(host, "circles-events", circles.memberLeft.subject, left);
    gate.release();
    expect(await ofBob.next()).toMatchObject({
      ref: "s",
      error: { code: "ERROR_CODE_PERMISSION_DENIED", channel },
    });
    expect(asked).toEqual([bob, bob]);
  });
});
