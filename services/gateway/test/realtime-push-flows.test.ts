import { randomBytes } from "node:crypto";
import { createClient, type Transport } from "@connectrpc/connect";
import { buildApp as buildCircles } from "@kindred/circles/app";
import { loadCirclesConfig } from "@kindred/circles/config";
import { buildApp as buildContent } from "@kindred/content/app";
import { loadContentConfig } from "@kindred/content/config";
import { contentStream } from "@kindred/event-catalog";
import { eventNamespace, streamIn } from "@kindred/events";
import { buildApp as buildIdentity } from "@kindred/identity/app";
import { loadIdentityConfig } from "@kindred/identity/config";
import { buildApp as buildModeration } from "@kindred/moderation/app";
import { loadModerationConfig } from "@kindred/moderation/config";
import { buildApp as buildNotifier, type NotifierApp } from "@kindred/notifier/app";
import { loadNotifierConfig } from "@kindred/notifier/config";
import { CircleService, Visibility } from "@kindred/proto/circles/v1";
import { PostService, SupportService } from "@kindred/proto/content/v1";
import { AuthService } from "@kindred/proto/identity/v1";
import { NotifierService, Platform } from "@kindred/proto/notifier/v1";
import { createApp as createRealtime } from "@kindred/realtime/app";
import { loadRealtimeConfig } from "@kindred/realtime/config";
import type { ServiceHost } from "@kindred/runtime";
import { deleteNamespaceStreams, startReady, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Notifier's fake push providers and realtime's socket helper, shared by path.
import { FakeApns, fakeApnsCa, generateApnsKey } from "../../notifier/test/push/fake-apns.ts";
import { FakeFcm } from "../../notifier/test/push/fake-fcm.ts";
import { openSocket, type TestSocket } from "../../realtime/test/helpers.ts";
import { bearerTransport, startEdge } from "./edge-harness.ts";

/**
 * Issue 7 where clients meet it: live frames through the gateway and a second realtime
 * instance, resume from a cursor, revocation on leave, and SOS pushes through the fake APNs
 * and FCM, with the real identity, circles, content, moderation and notifier behind them.
 */
const namespace = uniqueName("rpflow");
const apnsIds = { teamId: "TEAM123456", keyId: "KEY1234567", bundleId: "app.kindred.ios" };
const disposables: AsyncDisposable[] = [];
let gateway: ServiceHost & AsyncDisposable;
let realtime2: ServiceHost;
let notifierApp: NotifierApp;
let apns: FakeApns;
let fcm: FakeFcm;

beforeAll(async () => {
  const extra = { EVENTS_NAMESPACE: namespace };
  const [identityDb, circlesDb, contentDb, moderationDb, notifierDb] = await Promise.all([
    createTestDatabase("rp_identity"),
    createTestDatabase("rp_circles"),
    createTestDatabase("rp_content"),
    createTestDatabase("rp_moderation"),
    createTestDatabase("rp_notifier"),
  ]);
  disposables.push(identityDb, circlesDb, contentDb, moderationDb, notifierDb);
  const apnsKey = await generateApnsKey();
  apns = await FakeApns.start({ ...apnsIds, publicKey: apnsKey.publicKey });
  fcm = await FakeFcm.start();
  disposables.push(apns, fcm);
  const identity = buildIdentity(
    loadIdentityConfig(testServiceEnv({ database: identityDb, extra })),
  );
  await startReady(identity.host);
  disposables.unshift(identity.host);
  const auth = { ...extra, AUTH_JWKS_URL: `${identity.host.url}/.well-known/jwks.json` };
  // Circles first: realtime asks it whether a subscriber is a member.
  const circles = await startReady(
    buildCircles(loadCirclesConfig(testServiceEnv({ database: circlesDb, extra: auth }))).host,
  );
  const realtimeEnv = () =>
    loadRealtimeConfig(testServiceEnv({ extra: { ...auth, CIRCLES_URL: circles.url } }));
  notifierApp = buildNotifier(
    loadNotifierConfig(
      testServiceEnv({
        database: notifierDb,
        extra: {
          ...auth,
          APNS_URL: apns.url,
          APNS_TEAM_ID: apnsIds.teamId,
          APNS_KEY_ID: apnsIds.keyId,
          APNS_PRIVATE_KEY: apnsKey.privateKeyPem,
          APNS_BUNDLE_ID: apnsIds.bundleId,
          APNS_CA: fakeApnsCa,
          FCM_URL: fcm.url,
          FCM_SERVICE_ACCOUNT: fcm.serviceAccount.json,
          DISPATCH_POLL_MS: "200",
        },
      }),
    ),
  );
  const [content, moderation, realtime1, second, notifier] = await Promise.all([
    startReady(
      buildContent(loadContentConfig(testServiceEnv({ database: contentDb, extra: auth }))).host,
    ),
    startReady(
      buildModeration(loadModerationConfig(testServiceEnv({ database: moderationDb, extra: auth })))
        .host,
    ),
    startReady(createRealtime(realtimeEnv())),
    startReady(createRealtime(realtimeEnv())),
    startReady(notifierApp.host),
  ]);
  realtime2 = second;
  disposables.unshift(circles, content, moderation, realtime1, second, notifier);
  // The gateway routes /v1/realtime to the first instance; the second is reached directly.
  gateway = await startEdge(
    {
      IDENTITY_URL: identity.host.url,
      CIRCLES_URL: circles.url,
      CONTENT_URL: content.url,
      MODERATION_URL: moderation.url,
      REALTIME_URL: realtime1.url,
      NOTIFIER_URL: notifier.url,
    },
    extra,
  );
  disposables.unshift(gateway);
}, 90_000);

afterAll(async () => {
  for (const d of disposables) await d[Symbol.asyncDispose]();
  await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace));
});

const transport = (token?: string): Transport => bearerTransport(gateway.url, token);

/** A signed-up user at the edge, with clients that carry their access token. */
async function person(name: string) {
  const stamp = `${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  const { user, tokens } = await createClient(AuthService, transport()).register({
    email: `${name.toLowerCase()}.${stamp}@example.org`,
    password: `a long and quiet walk for ${name}`,
    displayName: name,
  });
  const token = tokens?.accessToken ?? "";
  const t = transport(token);
  return {
    id: user?.id ?? "",
    token,
    circles: createClient(CircleService, t),
    posts: createClient(PostService, t),
    support: createClient(SupportService, t),
    notifier: createClient(NotifierService, t),
  };
}
type Person = Awaited<ReturnType<typeof person>>;

async function circleWith(owner: Person, ...members: Person[]) {
  const { circle } = await owner.circles.createCircle({
    name: `Early risers ${Math.random().toString(36).slice(2, 6)}`,
    description: "for the dawn",
    visibility: Visibility.OPEN,
  });
  const circleId = circle?.id ?? "";
  for (const member of members) await member.circles.joinCircle({ circleId });
  return circleId;
}

async function post(author: Person, circleId: string, body: string) {
  const { post } = await author.posts.createPost({ circleId, body });
  return post?.id ?? "";
}

interface Frame {
  ref?: string;
  subscribed?: { channel: string; cursor: string };
  unsubscribed?: { channel: string; reason: string };
  error?: { code: string; message: string; channel?: string };
  outdatedCursor?: { channel: string; cursor: string };
  pong?: { nonce?: string };
  event?: { channel: string; cursor: string; postCreated?: { id: string; body: string } };
}

/** The next frame that matches, skipping the others; fails after a deadline instead of hanging. */
async function frameWhere(socket: TestSocket, what: string, match: (f: Frame) => boolean) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 20_000);
  });
  try {
    for (;;) {
      const frame = (await Promise.race([socket.next(), deadline])) as Frame;
      if (match(frame)) return frame;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a client message with `ref` and returns the answer to it (subscribed or error first). */
async function request(socket: TestSocket, ref: string, message: Record<string, unknown>) {
  socket.send({ ref, ...message });
  return frameWhere(socket, `the answer to ${ref}`, (f) => f.ref === ref);
}

/** The next postCreated frame of `channel`. */
const postFrame = (socket: TestSocket, channel: string) =>
  frameWhere(
    socket,
    `a post on ${channel}`,
    (f) => f.event?.channel === channel && f.event.postCreated !== undefined,
  );

/**
 * Every frame the socket received before a pong to a ping sent now: what the server had sent
 * it by the time it handled the ping (frames of one connection keep their order).
 */
async function framesSoFar(socket: TestSocket): Promise<Frame[]> {
  const nonce = Math.random().toString(36).slice(2);
  socket.send({ ping: { nonce } });
  const before: Frame[] = [];
  await frameWhere(socket, "a pong", (f) => {
    if (f.pong?.nonce === nonce) return true;
    before.push(f);
    return false;
  });
  return before;
}

const ofChannel = (frames: Frame[], channel: string) =>
  frames.filter((f) => f.event?.channel === channel);

/** Quiet hours in UTC from an hour before now to an hour after. */
function quietNow() {
  const now = new Date();
  const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
  return {
    enabled: true,
    startMinute: (minute + 1440 - 60) % 1440,
    endMinute: (minute + 60) % 1440,
    timeZone: "UTC",
  };
}

describe("realtime and push through the gateway", () => {
  it("a post reaches members on two realtime instances; a non-member's subscribe is refused", async () => {
    const [owner, ada, ben, nora] = await Promise.all([
      person("Owner"),
      person("Ada"),
      person("Ben"),
      person("Nora"),
    ]);
    const circleId = await circleWith(owner, ada, ben);
    const channel = `circle:${circleId}`;
    await using adaSocket = await openSocket(gateway.url, { token: ada.token });
    await using benSocket = await openSocket(realtime2.url, { token: ben.token });
    await using noraSocket = await openSocket(gateway.url, { token: nora.token });
    for (const socket of [adaSocket, benSocket]) {
      expect(await request(socket, "s", { subscribe: { channel } })).toMatchObject({
        subscribed: { channel },
      });
    }
    expect(await request(noraSocket, "n", { subscribe: { channel } })).toMatchObject({
      error: { code: "ERROR_CODE_PERMISSION_DENIED", channel },
    });

    const postId = await post(owner, circleId, "the sunrise was worth it");
    const [onFirst, onSecond] = await Promise.all([
      postFrame(adaSocket, channel),
      postFrame(benSocket, channel),
    ]);
    expect(onFirst.event?.postCreated?.id).toBe(postId);
    expect(onSecond.event?.postCreated?.id).toBe(postId);
    expect(onSecond.event?.cursor).toBe(onFirst.event?.cursor);
    // Nora's connection is on the instance that sent Ada the post: nothing of it reached her.
    expect(ofChannel(await framesSoFar(noraSocket), channel)).toEqual([]);
  });

  it("a resume replays exactly the missed posts then goes live; a cursor it cannot resume is outdated", async () => {
    const [owner, ada] = await Promise.all([person("Olga"), person("Ari")]);
    const circleId = await circleWith(owner, ada);
    const channel = `circle:${circleId}`;
    const first = await openSocket(gateway.url, { token: ada.token });
    await request(first, "s", { subscribe: { channel } });
    const p1 = await post(owner, circleId, "one");
    const seen = await postFrame(first, channel);
    expect(seen.event?.postCreated?.id).toBe(p1);
    const cursor = seen.event?.cursor ?? "";
    await first[Symbol.asyncDispose]();

    const p2 = await post(owner, circleId, "two");
    const p3 = await post(owner, circleId, "three");
    await using again = await openSocket(gateway.url, { token: ada.token });
    expect(await request(again, "r", { subscribe: { channel, cursor } })).toMatchObject({
      subscribed: { channel },
    });
    const missed = [await postFrame(again, channel), await postFrame(again, channel)];
    expect(missed.map((f) => f.event?.postCreated?.id)).toEqual([p2, p3]);
    const cursors = missed.map((f) => Number(f.event?.cursor));
    expect(cursors[0]).toBeGreaterThan(Number(cursor));
    expect(cursors[1]).toBeGreaterThan(cursors[0] ?? 0);
    const p4 = await post(owner, circleId, "four");
    expect((await postFrame(again, channel)).event?.postCreated?.id).toBe(p4);
    // Nothing repeated after the cut-over.
    expect(ofChannel(await framesSoFar(again), channel)).toEqual([]);

    const resumeFrom = async (from: string) => {
      await using socket = await openSocket(gateway.url, { token: ada.token });
      expect(await request(socket, "c", { subscribe: { channel, cursor: from } })).toMatchObject({
        subscribed: { channel },
      });
      const next = (await socket.next()) as Frame;
      return [next, ...(await framesSoFar(socket))];
    };
    const outdated = (from: string) => [
      { schemaVersion: "SCHEMA_VERSION_1", ref: "c", outdatedCursor: { channel, cursor: from } },
    ];
    // Not a sequence, and beyond the stream's end: outdated.
    expect(await resumeFrom("not-a-cursor")).toEqual(outdated("not-a-cursor"));
    expect(await resumeFrom("999999999")).toEqual(outdated("999999999"));
    // "0" while the stream still holds its first event: the channel's whole history.
    const all = await resumeFrom("0");
    expect(all.map((f) => f.event?.postCreated?.id)).toEqual([p1, p2, p3, p4]);

    // Retention removes the oldest events: "0" and "1" are now older than the history held.
    const nc = await connect({ servers: testEnv.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.purge(streamIn(eventNamespace(namespace), contentStream.name), {
        keep: 1,
      });
    } finally {
      await nc.close();
    }
    expect(await resumeFrom("1")).toEqual(outdated("1"));
    expect(await resumeFrom("0")).toEqual(outdated("0"));
    // The socket that resumed earlier is still live.
    const p5 = await post(owner, circleId, "five");
    expect((await postFrame(again, channel)).event?.postCreated?.id).toBe(p5);
  });

  it("leaving a circle ends the live subscription at once", async () => {
    const [owner, ada, ben] = await Promise.all([person("Oona"), person("Alf"), person("Bea")]);
    const circleId = await circleWith(owner, ada, ben);
    const channel = `circle:${circleId}`;
    await using adaSocket = await openSocket(gateway.url, { token: ada.token });
    await using benSocket = await openSocket(gateway.url, { token: ben.token });
    await request(adaSocket, "s", { subscribe: { channel } });
    await request(benSocket, "s", { subscribe: { channel } });

    await ada.circles.leaveCircle({ circleId });
    expect(
      await frameWhere(adaSocket, "the unsubscribe", (f) => f.unsubscribed !== undefined),
    ).toMatchObject({ unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_LEFT" } });

    const postId = await post(owner, circleId, "after she left");
    expect((await postFrame(benSocket, channel)).event?.postCreated?.id).toBe(postId);
    expect(ofChannel(await framesSoFar(adaSocket), channel)).toEqual([]);
    expect(await request(adaSocket, "again", { subscribe: { channel } })).toMatchObject({
      error: { code: "ERROR_CODE_PERMISSION_DENIED", channel },
    });
  });

  it("an SOS is pushed to the other members' phones through APNs and FCM, through quiet hours, without its words", async () => {
    const [raiser, iphoneUser, androidUser] = await Promise.all([
      person("Rae"),
      person("Ivy"),
      person("Andy"),
    ]);
    const circleId = await circleWith(raiser, iphoneUser, androidUser);
    const iphone = randomBytes(32).toString("hex");
    const android = `fcm-${randomBytes(16).toString("hex")}`;
    const raisersPhone = randomBytes(32).toString("hex");
    const devices = [
      [iphoneUser, Platform.IOS, iphone],
      [androidUser, Platform.ANDROID, android],
      [raiser, Platform.IOS, raisersPhone],
    ] as const;
    for (const [user, platform, token] of devices) {
      await user.notifier.registerDevice({ platform, token, locale: "en-GB", appVersion: "2.0.0" });
    }
    const { preferences } = await iphoneUser.notifier.updatePreferences({
      quietHours: quietNow(),
    });
    expect(preferences?.quietHours?.enabled).toBe(true);
    // Notifier learns memberships from circles' events (another stream than the SOS's).
    const db = notifierApp.deps.db.kysely;
    await waitFor(
      async () => {
        const rows = await db
          .selectFrom("circle_member")
          .select("user_id")
          .where("circle_id", "=", circleId)
          .where("left_at", "is", null)
          .execute();
        return rows.length === 3 ? true : undefined;
      },
      { what: "notifier to know the circle's members", timeoutMs: 20_000 },
    );

    const words = "I'm on the roof of the car park on Elm Street";
    const { alert } = await raiser.support.raiseSos({ circleId, message: words });
    const alertId = alert?.id ?? "";
    const settled = await waitFor(
      async () => {
        const rows = await db
          .selectFrom("notification")
          .select(["user_id", "status"])
          .where("subject_id", "=", alertId)
          .execute();
        return rows.length === 2 && rows.every((r) => r.status === "sent") ? rows : undefined;
      },
      { what: "the SOS pushes sent", timeoutMs: 20_000 },
    );
    expect(settled.map((r) => r.user_id).sort()).toEqual([iphoneUser.id, androidUser.id].sort());

    const toIphone = apns.delivered.filter((r) => r.token === iphone);
    expect(toIphone).toHaveLength(1);
    expect(apns.requests.filter((r) => r.token === raisersPhone)).toEqual([]);
    const ios = toIphone[0];
    expect(ios?.headers).toMatchObject({
      "apns-priority": "10",
      "apns-push-type": "alert",
      "apns-topic": apnsIds.bundleId,
    });
    expect(ios?.body).toMatchObject({
      aps: { "interruption-level": "time-sensitive" },
      kind: "sos",
      sos_id: alertId,
      circle_id: circleId,
    });
    expect(ios?.raw).not.toContain("roof");

    const toAndroid = fcm.sends
      .map((s) => s.body as { message: { token: string } })
      .filter((b) => b.message.token === android);
    expect(toAndroid).toHaveLength(1);
    expect(toAndroid[0]).toMatchObject({
      message: {
        android: { priority: "HIGH", collapse_key: `sos:${alertId}` },
        data: { kind: "sos", sos_id: alertId, circle_id: circleId },
      },
    });
    expect(JSON.stringify(toAndroid[0])).not.toContain("roof");
  });
});
