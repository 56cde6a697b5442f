import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import { buildApp as buildCircles } from "@kindred/circles/app";
import { loadCirclesConfig } from "@kindred/circles/config";
import { buildApp as buildContent } from "@kindred/content/app";
import { loadContentConfig } from "@kindred/content/config";
import { circlesEvents, contentEvents } from "@kindred/event-catalog";
import { type EventType, eventNamespace } from "@kindred/events";
import { buildApp as buildIdentity } from "@kindred/identity/app";
import { loadIdentityConfig } from "@kindred/identity/config";
import { CircleService, Visibility } from "@kindred/proto/circles/v1";
import { EscalationStage, PostService, SosStatus, SupportService } from "@kindred/proto/content/v1";
import { AuthService } from "@kindred/proto/identity/v1";
import type { ServiceHost } from "@kindred/runtime";
import {
  connectErrorOf,
  deleteNamespaceStreams,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerTransport, startEdge } from "./edge-harness.ts";

/**
 * Issue 5's main flow where a mobile client meets it: through the gateway, with the real
 * identity, circles and content services behind it, content learning memberships from circles'
 * events. Each step's event is read back from JetStream.
 */
const namespace = uniqueName("cflow");
const disposables: AsyncDisposable[] = [];
let gateway: ServiceHost & AsyncDisposable;

beforeAll(async () => {
  const extra = { EVENTS_NAMESPACE: namespace };
  const [identityDb, circlesDb, contentDb] = await Promise.all([
    createTestDatabase("cf_identity"),
    createTestDatabase("cf_circles"),
    createTestDatabase("cf_content"),
  ]);
  disposables.push(identityDb, circlesDb, contentDb);
  const identity = buildIdentity(
    loadIdentityConfig(testServiceEnv({ database: identityDb, extra })),
  );
  await startReady(identity.host);
  disposables.unshift(identity.host);
  const auth = { ...extra, AUTH_JWKS_URL: `${identity.host.url}/.well-known/jwks.json` };
  const circles = await startReady(
    buildCircles(loadCirclesConfig(testServiceEnv({ database: circlesDb, extra: auth }))).host,
  );
  disposables.unshift(circles);
  // Short SOS timings so "nobody answered" happens within the test.
  const sos = { SOS_ACK_TIMEOUT_SECONDS: "1", SOS_ESCALATION_CHECK_MS: "100" };
  const content = await startReady(
    buildContent(
      loadContentConfig(testServiceEnv({ database: contentDb, extra: { ...auth, ...sos } })),
    ).host,
  );
  disposables.unshift(content);
  const upstreams: Record<string, string> = {
    IDENTITY_URL: identity.host.url,
    CIRCLES_URL: circles.url,
    CONTENT_URL: content.url,
  };
  gateway = await startEdge(upstreams, extra);
  disposables.unshift(gateway);
}, 60_000);

afterAll(async () => {
  for (const d of disposables) await d[Symbol.asyncDispose]();
  await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace));
});

const transport = (token?: string): Transport => bearerTransport(gateway.url, token);

/** A signed-up user's clients at the edge. */
async function person(name: string) {
  const stamp = `${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  const { user, tokens } = await createClient(AuthService, transport()).register({
    email: `${name.toLowerCase()}.${stamp}@example.org`,
    password: `a long and quiet walk for ${name}`,
    displayName: name,
  });
  const t = transport(tokens?.accessToken);
  return {
    id: user?.id ?? "",
    circles: createClient(CircleService, t),
    posts: createClient(PostService, t),
    support: createClient(SupportService, t),
  };
}

/** Every event of `type` in this test's stream, decoded, in stream order. */
async function eventsOf<Desc extends DescMessage>(
  stream: "CIRCLES" | "CONTENT",
  type: EventType<Desc>,
): Promise<MessageShape<Desc>[]> {
  const nc = await connect({ servers: testEnv.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const name = `${namespace.toUpperCase()}_${stream}`;
    const info = await jsm.streams.info(name);
    const found: MessageShape<Desc>[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const msg = await jsm.streams.getMessage(name, { seq }).catch(() => null);
      if (msg?.subject === `${namespace}.${type.subject}`)
        found.push(fromBinary(type.schema, msg.data));
    }
    return found;
  } finally {
    await nc.close();
  }
}

const eventually = <T>(probe: () => Promise<T | undefined>, what: string) =>
  waitFor(probe, { what, timeoutMs: 15_000 });

describe("circles and content through the gateway", () => {
  it("register → create circle → invite → join → post → respond → feed, each event on JetStream", async () => {
    const owner = await person("Owner");
    const friend = await person("Friend");
    const stranger = await person("Stranger");

    const { circle } = await owner.circles.createCircle({
      name: "Night owls",
      description: "for the long nights",
      visibility: Visibility.INVITE_ONLY,
    });
    const circleId = circle?.id ?? "";
    const { invite } = await owner.circles.createInvite({ circleId, maxUses: 1 });
    // Without the invite, an invite-only circle does not even admit it exists (ADR 12).
    expect(await connectErrorOf(stranger.circles.joinCircle({ circleId }))).toMatchObject({
      code: Code.NotFound,
    });
    const joined = await friend.circles.joinCircle({ circleId, inviteCode: invite?.code ?? "" });
    expect(joined.circle?.memberCount).toBe(2);

    // Content learns the membership from circles' event; a post at once still works.
    const { post } = await friend.posts.createPost({ circleId, body: "rough day, but I'm here" });
    expect(post).toMatchObject({ circleId, authorId: friend.id, version: 1n });
    const { response } = await owner.posts.respondToPost({
      postId: post?.id ?? "",
      body: "glad you are",
    });
    expect(response?.authorId).toBe(owner.id);

    const feed = await owner.posts.listFeed({});
    expect(feed.posts.map((p) => p.id)).toEqual([post?.id]);
    const responses = await friend.posts.listResponses({ postId: post?.id ?? "" });
    expect(responses.responses.map((r) => r.body)).toEqual(["glad you are"]);
    // A non-member sees nothing of the circle.
    expect((await stranger.posts.listFeed({})).posts).toEqual([]);
    expect(await connectErrorOf(stranger.posts.getPost({ postId: post?.id ?? "" }))).toMatchObject({
      code: Code.NotFound,
    });

    const created = await eventually(async () => {
      const events = await eventsOf("CIRCLES", circlesEvents.circleCreated);
      return events.find((e) => e.circleId === circleId);
    }, "circles.circle.created.v1");
    expect(created).toMatchObject({ ownerId: owner.id, name: "Night owls" });
    const joins = await eventually(async () => {
      const events = (await eventsOf("CIRCLES", circlesEvents.memberJoined)).filter(
        (e) => e.circleId === circleId,
      );
      return events.length === 2 ? events : undefined;
    }, "circles.member.joined.v1 for owner and friend");
    expect(joins.map((e) => e.userId)).toEqual([owner.id, friend.id]);
    expect(joins[1]?.circleVersion).toBeGreaterThan(joins[0]?.circleVersion ?? 0n);
    const posted = await eventually(async () => {
      const events = await eventsOf("CONTENT", contentEvents.postCreated);
      return events.find((e) => e.postId === post?.id);
    }, "content.post.created.v1");
    expect(posted).toMatchObject({ circleId, authorId: friend.id });
    const responded = await eventually(async () => {
      const events = await eventsOf("CONTENT", contentEvents.responseCreated);
      return events.find((e) => e.responseId === response?.id);
    }, "content.response.created.v1");
    expect(responded).toMatchObject({
      postId: post?.id,
      postAuthorId: friend.id,
      authorId: owner.id,
    });
  });

  it("leaving a circle takes its posts out of the feed; removal reaches the author's feed too", async () => {
    const owner = await person("Host");
    const member = await person("Guest");
    const { circle } = await owner.circles.createCircle({
      name: "Open door",
      description: "",
      visibility: Visibility.OPEN,
    });
    const circleId = circle?.id ?? "";
    await member.circles.joinCircle({ circleId });
    const { post } = await owner.posts.createPost({ circleId, body: "welcome" });
    expect((await member.posts.listFeed({ circleId })).posts.map((p) => p.id)).toEqual([post?.id]);

    await owner.posts.deletePost({ postId: post?.id ?? "" });
    expect((await member.posts.listFeed({ circleId })).posts).toEqual([]);
    const removed = await eventually(async () => {
      const events = await eventsOf("CONTENT", contentEvents.postRemoved);
      return events.find((e) => e.postId === post?.id);
    }, "content.post.removed.v1");
    expect(removed?.removedBy).toBe(owner.id);

    const second = await owner.posts.createPost({ circleId, body: "still here" });
    await member.circles.leaveCircle({ circleId });
    await eventually(
      async () => ((await member.posts.listFeed({})).posts.length === 0 ? true : undefined),
      "the feed to drop the circle after leaving",
    );
    expect(second.post?.id).toBeDefined();
  });
  it("SOS: raised, acknowledged by a member, resolved; one left unanswered escalates stage by stage", async () => {
    const raiser = await person("Raiser");
    const friend = await person("Listener");
    const { circle } = await raiser.circles.createCircle({
      name: "Safe harbour",
      description: "",
      visibility: Visibility.OPEN,
    });
    const circleId = circle?.id ?? "";
    await friend.circles.joinCircle({ circleId });

    const { alert } = await raiser.support.raiseSos({ circleId, message: "I need someone now" });
    expect(alert).toMatchObject({ circleId, raisedBy: raiser.id, status: SosStatus.RAISED });
    const alertId = alert?.id ?? "";
    expect((await friend.support.listActiveSos({})).alerts.map((a) => a.id)).toContain(alertId);
    const acked = await friend.support.acknowledgeSos({ alertId });
    expect(acked.alert?.status).toBe(SosStatus.ACKNOWLEDGED);
    const resolved = await raiser.support.resolveSos({ alertId });
    expect(resolved.alert?.status).toBe(SosStatus.RESOLVED);

    const raised = await eventually(async () => {
      const events = await eventsOf("CONTENT", contentEvents.sosRaised);
      return events.find((e) => e.alertId === alertId);
    }, "content.sos.raised.v1");
    expect(raised).toMatchObject({ circleId, raisedBy: raiser.id, message: "I need someone now" });
    const ack = await eventually(async () => {
      const events = await eventsOf("CONTENT", contentEvents.sosAcknowledged);
      return events.find((e) => e.alertId === alertId);
    }, "content.sos.acknowledged.v1");
    expect(ack?.acknowledgedBy).toBe(friend.id);
    await eventually(async () => {
      const events = await eventsOf("CONTENT", contentEvents.sosResolved);
      return events.find((e) => e.alertId === alertId);
    }, "content.sos.resolved.v1");

    // Nobody answers the second one: it climbs one stage per timeout, each step an event.
    const second = await raiser.support.raiseSos({ circleId });
    const secondId = second.alert?.id ?? "";
    const stages = await eventually(async () => {
      const events = (await eventsOf("CONTENT", contentEvents.sosEscalated)).filter(
        (e) => e.alertId === secondId,
      );
      return events.length >= 3 ? events.map((e) => e.stage) : undefined;
    }, "three escalations of the unanswered alert");
    expect(stages).toEqual([
      EscalationStage.SECOND_WAVE,
      EscalationStage.CIRCLE_MODERATORS,
      EscalationStage.PLATFORM_ON_CALL,
    ]);
    const { alert: escalated } = await friend.support.getSos({ alertId: secondId });
    expect(escalated).toMatchObject({
      status: SosStatus.ESCALATED,
      escalationStage: EscalationStage.PLATFORM_ON_CALL,
    });
  });
});
