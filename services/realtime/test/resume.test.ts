import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  circlesEvents as circles,
  circlesStream,
  contentEvents as content,
  contentStream,
  identityEvents as identity,
  identityStream,
} from "@kindred/event-catalog";
import { eventNamespace, streamIn } from "@kindred/events";
import { createLogger } from "@kindred/logging";
import { NatsClient } from "@kindred/nats";
import { RemovalReason } from "@kindred/proto/content/events/v1";
import { startReady } from "@kindred/service-kit";
import { recordingLogger, testEnv } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { type ContentHistory, JetStreamContentHistory, resumePlan } from "../src/replay.ts";
import {
  contentEvents,
  createCirclesStream,
  everyoneIsMember,
  FakeMembership,
  handledUpTo,
  openSocket,
  realtimeHostWith,
  type TestSocket,
} from "./helpers.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const carol = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b03";
const circle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const otherCircle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c02";
const channel = `circle:${circle}`;

/** A post id per number, so that each is distinct and readable. */
const postId = (n: number) => `0195f1d2-7c3a-7b2e-9a41-${String(n).padStart(12, "0")}`;

type Frame = {
  ref?: string;
  subscribed?: { channel: string; cursor: string };
  outdatedCursor?: { channel: string; cursor: string };
  unsubscribed?: { channel: string; reason: string };
  event?: { channel: string; cursor: string } & Record<string, unknown>;
};

async function nextFrame(socket: TestSocket): Promise<Frame> {
  return (await socket.next()) as Frame;
}

/** The cursors of the next `count` frames, which must all be events of `channel`. */
async function eventCursors(socket: TestSocket, count: number): Promise<number[]> {
  const cursors: number[] = [];
  for (let i = 0; i < count; i++) {
    const frame = await nextFrame(socket);
    expect(frame.event?.channel).toBe(channel);
    cursors.push(Number(frame.event?.cursor));
  }
  return cursors;
}

/** A ping and its pong: nothing else was sent before it. */
async function nothingMore(socket: TestSocket): Promise<void> {
  socket.send({ ref: "rt", ping: { nonce: "end" } });
  expect(await socket.next()).toMatchObject({ ref: "rt", pong: { nonce: "end" } });
}

/** A NATS client and the CONTENT history of a test's namespace, read as realtime reads it. */
async function historyOf(namespace: string) {
  const nats = new NatsClient(
    { servers: [testEnv.natsUrl], token: undefined, connectTimeoutMs: 2_000 },
    { name: "realtime-test", logger: recordingLogger() },
  );
  await nats.connected();
  const history = new JetStreamContentHistory({
    nats,
    namespace: eventNamespace(namespace),
    logger: createLogger({ service: "realtime-test", level: "silent" }),
  });
  return { nats, history, [Symbol.asyncDispose]: () => nats[Symbol.asyncDispose]() };
}

describe("resume plan", () => {
  it("replays from a cursor the stream still holds, up to its end, within the bound", () => {
    const bounds = { first: 5, last: 20 };
    expect(resumePlan("4", bounds, 100)).toEqual({ replay: true, after: 4, until: 20 });
    expect(resumePlan("20", bounds, 100)).toEqual({ replay: true, after: 20, until: 20 });
    expect(resumePlan("10", bounds, 10)).toEqual({ replay: true, after: 10, until: 20 });
    // Older than retention, beyond the end (another stream), too far behind, not a sequence.
    for (const cursor of ["3", "21", "-1", "1e3", "abc", "9".repeat(20)]) {
      expect(resumePlan(cursor, bounds, 100)).toEqual({ replay: false });
    }
    expect(resumePlan("9", bounds, 10)).toEqual({ replay: false });
    // A stream that never held anything, and one whose every event expired.
    expect(resumePlan("0", { first: 0, last: 0 }, 100)).toEqual({
      replay: true,
      after: 0,
      until: 0,
    });
    expect(resumePlan("7", { first: 8, last: 7 }, 100)).toMatchObject({ replay: true });
  });
});

describe("resume", () => {
  it("replays exactly the frames of the channel missed after the cursor, then goes on live", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    let seen: string;
    {
      await using before = await openSocket(host.url, { token: `token-${alice}` });
      before.send({ ref: "s", subscribe: { channel } });
      expect(await nextFrame(before)).toMatchObject({ subscribed: { channel } });
      const first = await events.publishPost({ postId: postId(1), circleId: circle });
      seen = (await nextFrame(before)).event?.cursor ?? "";
      expect(seen).toBe(String(first));
    }

    // Missed while disconnected: posts here and elsewhere, a response, an edit, a removal.
    const missed = [await events.publishPost({ postId: postId(2), circleId: circle })];
    await events.publishPost({ postId: postId(3), circleId: otherCircle });
    missed.push(
      await events.publish(
        contentStream,
        content.responseCreated,
        {
          responseId: postId(4),
          postId: postId(2),
          circleId: circle,
          postAuthorId: bob,
          authorId: carol,
          body: "you are not alone",
        },
        postId(2),
      ),
      await events.publish(
        contentStream,
        content.postUpdated,
        { postId: postId(2), circleId: circle, authorId: bob, body: "edited", version: 2n },
        postId(2),
      ),
    );
    await events.publishPost({ postId: postId(5), circleId: otherCircle });
    missed.push(
      await events.publish(
        contentStream,
        content.postRemoved,
        { postId: postId(1), circleId: circle, authorId: bob, reason: RemovalReason.AUTHOR },
        postId(1),
      ),
    );
    const last = missed.at(-1) ?? 0;

    await using after = await openSocket(host.url, { token: `token-${alice}` });
    after.send({ ref: "r", subscribe: { channel, cursor: seen } });
    expect(await nextFrame(after)).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      ref: "r",
      subscribed: { channel, cursor: String(last) },
    });
    const replayed = [];
    for (let i = 0; i < missed.length; i++) replayed.push(await nextFrame(after));
    expect(replayed.map((f) => Number(f.event?.cursor))).toEqual(missed);
    expect(replayed.map((f) => Object.keys(f.event ?? {}).at(-1))).toEqual([
      "postCreated",
      "responseCreated",
      "postUpdated",
      "postRemoved",
    ]);
    // The same frames as live ones.
    expect(replayed[1]).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      event: {
        channel,
        cursor: String(missed[1]),
        occurredAt: "2026-11-25T12:00:00Z",
        responseCreated: {
          id: postId(4),
          postId: postId(2),
          authorId: carol,
          body: "you are not alone",
        },
      },
    });
    const live = await events.publishPost({ postId: postId(6), circleId: circle });
    expect(await eventCursors(after, 1)).toEqual([live]);
  });

  it("cuts over to live without a gap or a repeat while events keep coming", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using reader = await historyOf(events.namespace);
    const expected: number[] = [];
    const post = async (n: number, circleId = circle) => {
      const sequence = await events.publishPost({ postId: postId(n), circleId });
      if (circleId === circle) expected.push(sequence);
      return sequence;
    };
    for (let n = 1; n <= 40; n++) await post(n, n % 3 === 0 ? otherCircle : circle);

    let storedDuringReplay = () => {};
    const duringReplay = new Promise<void>((resolve) => {
      storedDuringReplay = resolve;
    });
    // Posts stored after the stream's end was read, and handled live while the replay runs:
    // they wait for the cut-over.
    const history: ContentHistory = {
      bounds: () => reader.history.bounds(),
      async read(...args) {
        let last = 0;
        for (let n = 41; n <= 60; n++) last = await post(n, n % 3 === 0 ? otherCircle : circle);
        await handledUpTo(host, "content-events", content.postCreated.subject, last);
        storedDuringReplay();
        return reader.history.read(...args);
      },
    };
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember, history }),
    );
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    socket.send({ ref: "r", subscribe: { channel, cursor: "3" } });
    expect(await nextFrame(socket)).toMatchObject({ subscribed: { cursor: "40" } });
    await duringReplay;
    const fromCursor = expected.filter((sequence) => sequence > 3);
    const received = await eventCursors(socket, fromCursor.length);
    expect(received).toEqual(fromCursor);
    for (let n = 61; n <= 65; n++) await post(n);
    expect(await eventCursors(socket, 5)).toEqual(expected.slice(-5));
    await nothingMore(socket);
  });

  it("answers a cursor it cannot resume with outdated_cursor, and subscribes live anyway", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await using host = await startReady(
      realtimeHostWith(
        events.namespace,
        { access: everyoneIsMember },
        { REALTIME_REPLAY_MAX_EVENTS: "3" },
      ),
    );
    for (let n = 1; n <= 6; n++) await events.publishPost({ postId: postId(n), circleId: circle });
    await handledUpTo(host, "content-events", content.postCreated.subject, 6);

    const outdated = async (cursor: string) => {
      await using socket = await openSocket(host.url, { token: `token-${alice}` });
      socket.send({ ref: "o", subscribe: { channel, cursor } });
      expect(await nextFrame(socket)).toEqual({
        schemaVersion: "SCHEMA_VERSION_1",
        ref: "o",
        subscribed: { channel, cursor: "6" },
      });
      expect(await nextFrame(socket)).toEqual({
        schemaVersion: "SCHEMA_VERSION_1",
        ref: "o",
        outdatedCursor: { channel, cursor },
      });
      await nothingMore(socket);
    };
    // Not a sequence, beyond the stream's end, more than 3 events behind.
    await outdated("not-a-sequence");
    await outdated("7");
    await outdated("2");

    // 3 behind: replayed. Then, still subscribed, live; and a second resume on the same
    // subscription (after a gap) replays again, without repeating what follows live.
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    socket.send({ ref: "r", subscribe: { channel, cursor: "3" } });
    expect(await nextFrame(socket)).toMatchObject({ subscribed: { cursor: "6" } });
    expect(await eventCursors(socket, 3)).toEqual([4, 5, 6]);
    await events.publishPost({ postId: postId(7), circleId: circle });
    expect(await eventCursors(socket, 1)).toEqual([7]);
    socket.send({ ref: "again", subscribe: { channel, cursor: "5" } });
    expect(await nextFrame(socket)).toMatchObject({ ref: "again", subscribed: { cursor: "7" } });
    expect(await eventCursors(socket, 2)).toEqual([6, 7]);
    await events.publishPost({ postId: postId(8), circleId: circle });
    expect(await eventCursors(socket, 1)).toEqual([8]);

    // Retention removed the oldest events: a cursor before them is outdated; live goes on.
    await using reader = await historyOf(events.namespace);
    const jsm = await reader.nats.jetstreamManager();
    await jsm.streams.purge(streamIn(eventNamespace(events.namespace), contentStream.name), {
      keep: 2,
    });
    expect(await reader.history.bounds()).toEqual({ first: 7, last: 8 });
    await using late = await openSocket(host.url, { token: `token-${alice}` });
    late.send({ ref: "late", subscribe: { channel, cursor: "5" } });
    expect(await nextFrame(late)).toMatchObject({ subscribed: { channel } });
    expect(await nextFrame(late)).toMatchObject({ outdatedCursor: { channel, cursor: "5" } });
    await events.publishPost({ postId: postId(9), circleId: circle });
    expect(await eventCursors(late, 1)).toEqual([9]);
    late.send({ ref: "kept", subscribe: { channel, cursor: "6" } });
    expect(await nextFrame(late)).toMatchObject({ subscribed: { cursor: "9" } });
    expect(await eventCursors(late, 3)).toEqual([7, 8, 9]);
  });

  it("withholds replayed frames across a block as live ones, and SOS words", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: everyoneIsMember }),
    );
    // Realtime knows alice's blocks while she is connected.
    await using phone = await openSocket(host.url, { token: `token-${alice}` });
    const blocked = await events.publish(
      identityStream,
      identity.userBlocked,
      { blockerId: alice, blockedId: bob },
      alice,
    );
    await handledUpTo(host, "identity-events", identity.userBlocked.subject, blocked);

    await events.publishPost({ postId: postId(1), circleId: circle, authorId: bob });
    const carols = await events.publishPost({
      postId: postId(2),
      circleId: circle,
      authorId: carol,
    });
    const raisedAt = timestampFromDate(new Date("2026-11-25T12:00:00Z"));
    const sos = await events.publish(
      contentStream,
      content.sosRaised,
      { alertId: postId(3), circleId: circle, raisedBy: bob, message: "please", raisedAt },
      postId(3),
    );

    await using laptop = await openSocket(host.url, { token: `token-${alice}` });
    laptop.send({ ref: "r", subscribe: { channel, cursor: "0" } });
    expect(await nextFrame(laptop)).toMatchObject({ subscribed: {} });
    expect(await nextFrame(laptop)).toMatchObject({
      event: { cursor: String(carols), postCreated: { authorId: carol } },
    });
    expect(await nextFrame(laptop)).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      event: {
        channel,
        cursor: String(sos),
        occurredAt: "2026-11-25T12:00:00Z",
        sosRaised: {
          id: postId(3),
          circleId: circle,
          raisedBy: bob,
          status: "SOS_STATUS_RAISED",
          escalationStage: "ESCALATION_STAGE_CIRCLE",
          createdAt: "2026-11-25T12:00:00Z",
        },
      },
    });
    await nothingMore(laptop);
    await nothingMore(phone);
  });

  it("ends a resume whose user leaves the circle meanwhile", async () => {
    await using events = await contentEvents();
    await events.createStream();
    await createCirclesStream(events.namespace);
    await using reader = await historyOf(events.namespace);
    for (let n = 1; n <= 3; n++) await events.publishPost({ postId: postId(n), circleId: circle });
    const history: ContentHistory = {
      bounds: () => reader.history.bounds(),
      async read(...args) {
        const left = await events.publish(
          circlesStream,
          circles.memberLeft,
          { circleId: circle, userId: alice, circleVersion: 4n },
          circle,
        );
        await handledUpTo(host, "circles-events", circles.memberLeft.subject, left);
        return reader.history.read(...args);
      },
    };
    const membership = new FakeMembership().add(circle, alice);
    await using host = await startReady(
      realtimeHostWith(events.namespace, { access: membership, history }),
    );
    await using socket = await openSocket(host.url, { token: `token-${alice}` });
    socket.send({ ref: "r", subscribe: { channel, cursor: "0" } });
    expect(await nextFrame(socket)).toMatchObject({ subscribed: { cursor: "3" } });
    expect(await nextFrame(socket)).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_LEFT" },
    });
    await events.publishPost({ postId: postId(4), circleId: circle });
    await nothingMore(socket);
    const metrics = await fetch(`${host.healthUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^kindred_realtime_subscriptions\{[^}]*\} 0$/m);
  });
});
