import { Code, createClient, type Transport } from "@connectrpc/connect";
import { buildApp as buildCircles } from "@kindred/circles/app";
import { loadCirclesConfig } from "@kindred/circles/config";
import { buildApp as buildContent } from "@kindred/content/app";
import { loadContentConfig } from "@kindred/content/config";
import { eventNamespace } from "@kindred/events";
import { buildApp as buildIdentity, type IdentityApp } from "@kindred/identity/app";
import { loadIdentityConfig } from "@kindred/identity/config";
import { buildApp as buildModeration } from "@kindred/moderation/app";
import { loadModerationConfig } from "@kindred/moderation/config";
import { buildApp as buildNotifier } from "@kindred/notifier/app";
import { loadNotifierConfig } from "@kindred/notifier/config";
import { CircleService, Visibility } from "@kindred/proto/circles/v1";
import { PostService } from "@kindred/proto/content/v1";
import { AuthService, UserService } from "@kindred/proto/identity/v1";
import {
  Action,
  AppealOutcome,
  CaseStatus,
  ModerationService,
  Priority,
  ReportReason,
  TargetKind,
} from "@kindred/proto/moderation/v1";
import { NotifierService, Platform } from "@kindred/proto/notifier/v1";
import { createApp as createRealtime } from "@kindred/realtime/app";
import { loadRealtimeConfig } from "@kindred/realtime/config";
import type { ServiceHost } from "@kindred/runtime";
import {
  connectErrorOf,
  deleteNamespaceStreams,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The fake PagerDuty of moderation's tests, and realtime's socket helper, shared by path.
import { FakeClassifier } from "../../moderation/test/outbound/fake-classifier.ts";
import { FakePagerDuty } from "../../moderation/test/outbound/fake-pagerduty.ts";
import { FakeFcm } from "../../notifier/test/push/fake-fcm.ts";
import { openSocket, type TestSocket } from "../../realtime/test/helpers.ts";
import { bearerTransport, startEdge } from "./edge-harness.ts";

/**
 * Issue 6 where clients meet it: through the gateway, with the real identity, circles, content,
 * moderation and realtime services behind it, each learning from the others' events.
 */
const namespace = uniqueName("mflow");
const routingKey = "0123456789abcdef0123456789abcdef";
const disposables: AsyncDisposable[] = [];
let gateway: ServiceHost & AsyncDisposable;
let identity: IdentityApp;
let contentApp: ReturnType<typeof buildContent>;
let pager: FakePagerDuty;
let classifier: FakeClassifier;
let fcm: FakeFcm;

beforeAll(async () => {
  const extra = { EVENTS_NAMESPACE: namespace };
  const [identityDb, circlesDb, contentDb, moderationDb, notifierDb] = await Promise.all([
    createTestDatabase("mf_identity"),
    createTestDatabase("mf_circles"),
    createTestDatabase("mf_content"),
    createTestDatabase("mf_moderation"),
    createTestDatabase("mf_notifier"),
  ]);
  disposables.push(identityDb, circlesDb, contentDb, moderationDb, notifierDb);
  pager = await FakePagerDuty.start({ routingKey });
  // The external classifier is down for the whole run: the rules must still do their work.
  classifier = await FakeClassifier.start({ apiKey: "sk-e2e" });
  classifier.failNext(1_000_000, 503);
  fcm = await FakeFcm.start();
  disposables.push(pager, classifier, fcm);
  identity = buildIdentity(loadIdentityConfig(testServiceEnv({ database: identityDb, extra })));
  await startReady(identity.host);
  disposables.unshift(identity.host);
  const auth = { ...extra, AUTH_JWKS_URL: `${identity.host.url}/.well-known/jwks.json` };
  contentApp = buildContent(
    loadContentConfig(testServiceEnv({ database: contentDb, extra: auth })),
  );
  // Circles first: realtime asks it whether a subscriber is a member.
  const circles = await startReady(
    buildCircles(loadCirclesConfig(testServiceEnv({ database: circlesDb, extra: auth }))).host,
  );
  const [content, moderation, realtime, notifier] = await Promise.all([
    startReady(contentApp.host),
    startReady(
      buildModeration(
        loadModerationConfig(
          testServiceEnv({
            database: moderationDb,
            extra: {
              ...auth,
              PAGER_URL: pager.url,
              PAGER_ROUTING_KEY: routingKey,
              CLASSIFIER_URL: classifier.endpoint,
              CLASSIFIER_API_KEY: "sk-e2e",
              CLASSIFIER_TIMEOUT_MS: "300",
              SCAN_POLL_MS: "200",
            },
          }),
        ),
      ).host,
    ),
    startReady(
      createRealtime(
        loadRealtimeConfig(testServiceEnv({ extra: { ...auth, CIRCLES_URL: circles.url } })),
      ),
    ),
    startReady(
      buildNotifier(
        loadNotifierConfig(
          testServiceEnv({
            database: notifierDb,
            extra: {
              ...auth,
              FCM_URL: fcm.url,
              FCM_SERVICE_ACCOUNT: fcm.serviceAccount.json,
              DISPATCH_POLL_MS: "200",
            },
          }),
        ),
      ).host,
    ),
  ]);
  disposables.unshift(circles, content, moderation, realtime, notifier);
  const upstreams: Record<string, string> = {
    IDENTITY_URL: identity.host.url,
    CIRCLES_URL: circles.url,
    CONTENT_URL: content.url,
    MODERATION_URL: moderation.url,
    REALTIME_URL: realtime.url,
    NOTIFIER_URL: notifier.url,
  };
  gateway = await startEdge(upstreams, extra);
  disposables.unshift(gateway);
}, 90_000);

afterAll(async () => {
  for (const d of disposables) await d[Symbol.asyncDispose]();
  await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace));
});

const transport = (token?: string): Transport => bearerTransport(gateway.url, token);

function clients(token: string | undefined) {
  const t = transport(token);
  return {
    token: token ?? "",
    circles: createClient(CircleService, t),
    posts: createClient(PostService, t),
    users: createClient(UserService, t),
    moderation: createClient(ModerationService, t),
    notifier: createClient(NotifierService, t),
  };
}

/** A signed-up user at the edge; `roles` are granted in identity's records, then they sign in. */
async function person(name: string, roles: string[] = []) {
  const stamp = `${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  const credentials = {
    email: `${name.toLowerCase()}.${stamp}@example.org`,
    password: `a long and quiet walk for ${name}`,
  };
  const auth = createClient(AuthService, transport());
  const { user, tokens } = await auth.register({ ...credentials, displayName: name });
  const id = user?.id ?? "";
  if (roles.length === 0) return { id, credentials, ...clients(tokens?.accessToken) };
  await identity.deps.db.kysely
    .updateTable("app_user")
    .set({ roles: ["member", ...roles] })
    .where("id", "=", id)
    .execute();
  const signedIn = await auth.login(credentials);
  return { id, credentials, ...clients(signedIn.tokens?.accessToken) };
}

const eventually = <T>(probe: () => Promise<T | undefined>, what: string) =>
  waitFor(probe, { what, timeoutMs: 20_000 });

/** The next frame on the socket that matches, skipping others (subscribed, other events). */
async function frameWhere(socket: TestSocket, match: (frame: Record<string, unknown>) => boolean) {
  for (;;) {
    const frame = (await socket.next()) as Record<string, unknown>;
    if (match(frame)) return frame;
  }
}

async function circleWith(
  owner: Awaited<ReturnType<typeof person>>,
  ...members: Awaited<ReturnType<typeof person>>[]
) {
  const { circle } = await owner.circles.createCircle({
    name: `Night owls ${Math.random().toString(36).slice(2, 6)}`,
    description: "for the sleepless",
    visibility: Visibility.OPEN,
  });
  const circleId = circle?.id ?? "";
  for (const member of members) await member.circles.joinCircle({ circleId });
  return circleId;
}

async function postWhenMember(
  author: Awaited<ReturnType<typeof person>>,
  circleId: string,
  body: string,
) {
  const { post } = await author.posts.createPost({ circleId, body });
  return post?.id ?? "";
}

async function caseFor(moderator: Awaited<ReturnType<typeof person>>, targetId: string) {
  return eventually(async () => {
    const { cases } = await moderator.moderation.listQueue({ pageSize: 100 });
    return cases.find((c) => c.target?.id === targetId);
  }, `a case for ${targetId}`);
}

describe("moderation through the gateway", () => {
  it("a self-harm post jumps the queue and pages on-call; a removal reaches feeds, caches and live sockets; the author is told and appeals", async () => {
    const [owner, bob, mallory, moderator, second] = await Promise.all([
      person("Owner"),
      person("Bob"),
      person("Mallory"),
      person("Mo", ["moderator"]),
      person("Sam", ["moderator"]),
    ]);
    const circleId = await circleWith(owner, bob, mallory);
    await using bobSocket = await openSocket(gateway.url, { token: bob.token });
    await using mallorySocket = await openSocket(gateway.url, { token: mallory.token });
    bobSocket.send({ ref: "s1", subscribe: { channel: `circle:${circleId}` } });
    await frameWhere(bobSocket, (f) => "subscribed" in f);

    const malloryPhone = `fcm-${Math.random().toString(36).slice(2)}`;
    await mallory.notifier.registerDevice({
      platform: Platform.ANDROID,
      token: malloryPhone,
      locale: "en-GB",
      appVersion: "2.0.0",
    });
    const insult = await postWhenMember(mallory, circleId, "honestly kys, loser");
    const crisis = await postWhenMember(
      bob,
      circleId,
      "I can't do this anymore, I want to end my life",
    );

    // The crisis is first although it came later, and on-call moderators were paged for it.
    const crisisCase = await caseFor(moderator, crisis);
    const insultCase = await caseFor(moderator, insult);
    const { cases } = await moderator.moderation.listQueue({});
    expect(cases.map((c) => c.id).indexOf(crisisCase.id)).toBe(0);
    expect(cases.map((c) => c.id).indexOf(crisisCase.id)).toBeLessThan(
      cases.map((c) => c.id).indexOf(insultCase.id),
    );
    expect(crisisCase.priority).toBe(Priority.CRITICAL);
    await eventually(
      async () =>
        pager.events.some((e) => (e as { dedup_key?: string }).dedup_key === crisisCase.id)
          ? true
          : undefined,
      "the on-call page",
    );
    // The circle's owner moderates its circle-scoped cases, not the crisis (platform scope).
    const ownerQueue = (await owner.moderation.listQueue({})).cases.map((c) => c.id);
    expect(ownerQueue).toContain(insultCase.id);
    expect(ownerQueue).not.toContain(crisisCase.id);
    // The classifier was down: the rules flagged it anyway, and the case says so.
    const { case: crisisDetail } = await moderator.moderation.getCase({ caseId: crisisCase.id });
    expect(crisisDetail?.ruleMatches.find((m) => m.ruleId === "classifier")?.detail).toMatch(
      /^classifier unavailable/,
    );
    expect(classifier.requestCount).toBeGreaterThan(0);
    // Content holds the crisis post as evidence while its case is open, and lets go once it is
    // dismissed (nothing to appeal).
    const heldIds = async () =>
      (
        await contentApp.events.database.kysely
          .selectFrom("evidence_hold")
          .select("content_id")
          .where("content_id", "=", crisis)
          .execute()
      ).length;
    await eventually(
      async () => ((await heldIds()) > 0 ? true : undefined),
      "the crisis post held",
    );
    await moderator.moderation.claimCase({ caseId: crisisCase.id });
    await moderator.moderation.resolveCase({
      caseId: crisisCase.id,
      action: Action.DISMISS,
      note: "a member in crisis, supported by the circle; nothing to act on",
    });
    await eventually(async () => ((await heldIds()) === 0 ? true : undefined), "the hold released");

    // Bob's feed shows the insult (and is now cached).
    const feedIds = async () => (await bob.posts.listFeed({ pageSize: 50 })).posts.map((p) => p.id);
    expect(await feedIds()).toContain(insult);

    await moderator.moderation.claimCase({ caseId: insultCase.id });
    const { decision } = await moderator.moderation.resolveCase({
      caseId: insultCase.id,
      action: Action.REMOVE_CONTENT,
      note: "telling someone to kill themselves is never allowed",
    });
    const removedFrame = await frameWhere(
      bobSocket,
      (f) =>
        (f.event as { postRemoved?: { postId: string } } | undefined)?.postRemoved?.postId ===
        insult,
    );
    expect(removedFrame).toMatchObject({ event: { channel: `circle:${circleId}` } });
    await eventually(
      async () => ((await feedIds()).includes(insult) ? undefined : true),
      "the feed to drop it",
    );
    expect(await connectErrorOf(bob.posts.getPost({ postId: insult }))).toMatchObject({
      code: Code.NotFound,
    });
    const outcome = await frameWhere(mallorySocket, (f) => "event" in f);
    expect(outcome).toMatchObject({
      event: {
        channel: `user:${mallory.id}`,
        moderationOutcome: {
          decisionId: decision?.id,
          action: "ACTION_REMOVE_CONTENT",
          target: { kind: "TARGET_KIND_POST", id: insult },
        },
      },
    });
    // …and on her phone, through FCM, without the moderator's words.
    const push = await eventually(
      async () =>
        fcm.sends
          .map((r) => r.body as { message: { token: string; data: Record<string, string> } })
          .find(
            (b) =>
              b.message.token === malloryPhone && b.message.data.kind === "moderation_decision",
          ),
      "the decision pushed to the author's phone",
    );
    expect(push.message.data.decision_id).toBe(decision?.id);
    expect(JSON.stringify(push)).not.toContain("never allowed");
    const mine = await mallory.moderation.listMyDecisions({});
    expect(mine.decisions.map((d) => [d.id, d.moderatorId])).toEqual([[decision?.id, ""]]);

    // Mallory appeals; another moderator overturns; the post comes back.
    const { appeal } = await mallory.moderation.appealDecision({
      decisionId: decision?.id ?? "",
      statement: "it was a song lyric",
    });
    await second.moderation.resolveAppeal({
      appealId: appeal?.id ?? "",
      outcome: AppealOutcome.OVERTURN,
      note: "lyric, in context",
    });
    await eventually(
      async () => ((await feedIds()).includes(insult) ? true : undefined),
      "the post restored",
    );
  });

  it("a ban ends the user's sessions and live connection; escalation; evidence held while a case is open", async () => {
    const [owner, eve, reporter, moderator] = await Promise.all([
      person("Olive"),
      person("Eve"),
      person("Rita"),
      person("Max", ["moderator"]),
    ]);
    const circleId = await circleWith(owner, eve, reporter);
    const other = await person("Otto");
    await circleWith(other);

    // A report opens a circle-scoped case; content holds the post as evidence.
    const postId = await postWhenMember(eve, circleId, "meet me later, you know where");
    await reporter.moderation.reportContent({
      target: { kind: TargetKind.POST, id: postId },
      reason: ReportReason.HARASSMENT,
      details: "keeps following me",
    });
    const found = await caseFor(owner, postId);
    expect(found.status).toBe(CaseStatus.OPEN);
    const held = () =>
      contentApp.events.database.kysely
        .selectFrom("evidence_hold")
        .select("content_id")
        .where("content_id", "=", postId)
        .execute();
    await eventually(
      async () => ((await held()).length > 0 ? true : undefined),
      "the evidence hold",
    );
    // Another circle's owner cannot see it: to them there is no such case.
    await eventually(
      async () => ((await other.moderation.listQueue({})).cases.length === 0 ? true : undefined),
      "the other owner's (empty) queue",
    );
    expect(await connectErrorOf(other.moderation.getCase({ caseId: found.id }))).toMatchObject({
      code: Code.NotFound,
      rawMessage: "case not found",
    });
    // The owner escalates it to platform moderators.
    await owner.moderation.escalateCase({ caseId: found.id, note: "this is stalking" });
    expect(await connectErrorOf(owner.moderation.getCase({ caseId: found.id }))).toMatchObject({
      code: Code.NotFound,
    });
    expect((await caseFor(moderator, postId)).status).toBe(CaseStatus.ESCALATED);

    // A ban: sessions end, the socket closes, sign-in is refused.
    await using eveSocket = await openSocket(gateway.url, { token: eve.token });
    await moderator.moderation.claimCase({ caseId: found.id });
    await moderator.moderation.resolveCase({
      caseId: found.id,
      action: Action.BAN,
      note: "stalking",
    });
    expect(await eveSocket.closed).toMatchObject({ code: 4003 });
    await eventually(
      async () =>
        (await connectErrorOf(eve.users.getMe({}))).code === Code.Unauthenticated
          ? true
          : undefined,
      "the banned user's token refused",
    );
    expect(
      await connectErrorOf(createClient(AuthService, transport()).login(eve.credentials)),
    ).toMatchObject({ code: Code.PermissionDenied });
    // The ban is appealable, so the evidence stays held.
    expect(await held()).toHaveLength(1);
  });
});
