import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  contentEvents,
  identityEvents,
  identityStream,
  moderationEvents,
  moderationStream,
} from "@kindred/event-catalog";
import type { EventType } from "@kindred/events";
import { RemovalReason } from "@kindred/proto/content/events/v1";
import {
  CasePriority,
  CaseScope,
  type CaseTargetSchema,
  DecisionAction,
  TargetKind,
} from "@kindred/proto/moderation/events/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { waitFor } from "@kindred/testing";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeExpired } from "../src/purge.ts";
import { ContentHarness, newId, type TestCircle } from "./harness.ts";

/**
 * Moderation's case events applied to posts and responses (ADR 15): evidence holds, content
 * hidden for review (seen by its author only), removal by decision, restore by dismissal or
 * appeal; in any order, any number of times.
 */

let h: ContentHarness;
beforeAll(async () => {
  h = await ContentHarness.start();
});
afterAll(() => h?.[Symbol.asyncDispose]());

type Auth = Awaited<ReturnType<ContentHarness["as"]>>;
type Target = MessageInitShape<typeof CaseTargetSchema>;

/** The platform moderator who decides; the pipeline acts as `system:moderation`. */
const moderator = newId();

/** One moderation case about `target`, publishing its events as moderation would. */
class TestCase {
  readonly id = newId();
  readonly decisionId = newId();
  readonly target: Target;

  constructor(target: Target) {
    this.target = target;
  }

  /** Publishes one event of this case and resolves once content handled it and settled. */
  async send<Desc extends DescMessage>(
    event: EventType<Desc>,
    message: MessageInitShape<Desc>,
    actorId = "system:moderation",
  ) {
    const meta = await h.publish(moderationStream, event, message, this.id, actorId);
    await h.awaitHandled(meta.id);
    await h.settled();
    return meta;
  }

  #about() {
    return { caseId: this.id, target: this.target };
  }

  opened() {
    return this.send(moderationEvents.caseOpened, {
      ...this.#about(),
      priority: CasePriority.NORMAL,
      scope: CaseScope.CIRCLE,
      reason: "harassment",
      openedAt: now(),
    });
  }

  hidden() {
    return this.send(moderationEvents.contentHidden, {
      ...this.#about(),
      ruleIds: ["rule-1"],
      hiddenAt: now(),
    });
  }

  decided(action: DecisionAction) {
    return this.send(
      moderationEvents.decisionMade,
      {
        ...this.#about(),
        decisionId: this.decisionId,
        action,
        affectedUserId: this.target.userId,
        note: "",
        decidedAt: now(),
      },
      moderator,
    );
  }

  reversed(action = DecisionAction.REMOVE_CONTENT) {
    return this.send(
      moderationEvents.decisionReversed,
      {
        ...this.#about(),
        decisionId: this.decisionId,
        action,
        affectedUserId: this.target.userId,
        note: "appeal upheld",
        reversedAt: now(),
      },
      moderator,
    );
  }

  released() {
    return this.send(moderationEvents.evidenceReleased, { ...this.#about(), releasedAt: now() });
  }
}

const now = () => timestampFromDate(new Date());

/** A circle with its owner, the author of what gets moderated, and another member. */
async function circleWithAuthor() {
  const owner = newId();
  const author = newId();
  const member = newId();
  const circle = await h.createCircle(owner);
  await circle.join(author);
  await circle.join(member);
  return {
    circle,
    author,
    asOwner: await h.as(owner),
    asAuthor: await h.as(author),
    asMember: await h.as(member),
  };
}

async function postBy(circle: TestCircle, auth: Auth, body: string) {
  const { post } = await h.client.createPost({ circleId: circle.id, body }, auth);
  return post?.id ?? "";
}

const postTarget = (circle: TestCircle, postId: string, author: string): Target => ({
  kind: TargetKind.POST,
  id: postId,
  postId,
  circleId: circle.id,
  userId: author,
});

const postRow = (id: string) =>
  h.db.kysely.selectFrom("post").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const responseRow = (id: string) =>
  h.db.kysely.selectFrom("response").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const holds = async (id: string) =>
  (
    await h.db.kysely
      .selectFrom("evidence_hold")
      .select("case_id")
      .where("content_id", "=", id)
      .execute()
  ).map((r) => r.case_id);

const bodies = (page: { posts: { body: string }[] }) => page.posts.map((p) => p.body);
const feed = async (auth: Auth) => bodies(await h.client.listFeed({}, auth));
const circlePosts = async (circle: TestCircle, auth: Auth) =>
  bodies(await h.client.listCirclePosts({ circleId: circle.id }, auth));

/** `kindred_cache_requests_total{cache="feed",outcome="hit"}`. */
async function cacheHits() {
  const found = (await h.metrics()).match(
    /kindred_cache_requests_total\{[^}]*cache="feed",outcome="hit"[^}]*\} (\d+)/,
  );
  return Number(found?.[1] ?? 0);
}

/** Reads the feed twice, the second time from the cache, and returns its bodies. */
async function warmFeed(auth: Auth) {
  await h.client.listFeed({}, auth);
  const hits = await cacheHits();
  const page = await h.client.listFeed({}, auth);
  expect(await cacheHits()).toBe(hits + 1);
  return bodies(page);
}

/** Events written so far (every one of them reaches the outbox first). */
const outboxSize = () => h.count("event_outbox");

describe("evidence holds", () => {
  it("holds a post when its case opens, so the purge keeps it until the case releases it", async () => {
    const circleId = newId();
    const author = newId();
    const expired = newId();
    await h.db.kysely
      .insertInto("post")
      .values({
        id: expired,
        circle_id: circleId,
        author_id: author,
        body: "reported, then expired",
        content_warning: null,
        created_at: sql<Date>`now() - interval '1 day'`,
        expires_at: sql<Date>`now() - interval '2 hours'`,
        deleted_at: null,
      })
      .execute();
    const target: Target = {
      kind: TargetKind.POST,
      id: expired,
      postId: expired,
      circleId,
      userId: author,
    };
    const report = new TestCase(target);
    await report.opened();
    expect(await holds(expired)).toEqual([report.id]);
    // Redelivered (a new event id, as after a republish): still one hold.
    await report.opened();
    expect(await holds(expired)).toEqual([report.id]);

    const purge = () => purgeExpired(h.db, { now: new Date(), graceSeconds: 3_600 });
    await purge();
    expect(
      await h.db.kysely.selectFrom("post").select("id").where("id", "=", expired).execute(),
    ).toHaveLength(1);

    // Deciding does not release the hold (an appeal may still need the evidence).
    await report.decided(DecisionAction.DISMISS);
    expect(await holds(expired)).toEqual([report.id]);

    await report.released();
    expect(await holds(expired)).toEqual([]);
    await purge();
    expect(
      await h.db.kysely.selectFrom("post").select("id").where("id", "=", expired).execute(),
    ).toEqual([]);
    // What content knew of the case went with the post.
    expect(
      await h.db.kysely
        .selectFrom("moderation_case")
        .select("case_id")
        .where("case_id", "=", report.id)
        .execute(),
    ).toEqual([]);

    // A late event about purged content does nothing: no hold, no record.
    await new TestCase(target).opened();
    expect(await holds(expired)).toEqual([]);
    expect(
      await h.db.kysely
        .selectFrom("moderation_case")
        .select("case_id")
        .where("content_id", "=", expired)
        .execute(),
    ).toEqual([]);
  });

  it("holds responses; ignores cases about users and circles", async () => {
    const { circle, author, asAuthor, asMember } = await circleWithAuthor();
    const postId = await postBy(circle, asMember, "a post");
    const { response } = await h.client.respondToPost({ postId, body: "a reply" }, asAuthor);
    const responseId = response?.id ?? "";
    const report = new TestCase({
      kind: TargetKind.RESPONSE,
      id: responseId,
      postId,
      circleId: circle.id,
      userId: author,
    });
    await report.opened();
    expect(await holds(responseId)).toEqual([report.id]);

    const events = await outboxSize();
    await new TestCase({ kind: TargetKind.USER, id: author, userId: author }).opened();
    await new TestCase({ kind: TargetKind.CIRCLE, id: circle.id, circleId: circle.id }).opened();
    const userCase = new TestCase({ kind: TargetKind.USER, id: author, userId: author });
    await userCase.decided(DecisionAction.SUSPEND);
    expect(await outboxSize()).toBe(events);
    expect(await h.db.kysely.selectFrom("evidence_hold").selectAll().execute()).not.toContainEqual(
      expect.objectContaining({ content_id: author }),
    );
  });
});

describe("content hidden for review", () => {
  it("is gone from every read of everyone but its author, at once, and back when dismissed", async () => {
    const { circle, author, asOwner, asAuthor, asMember } = await circleWithAuthor();
    await postBy(circle, asMember, "before");
    const postId = await postBy(circle, asAuthor, "flagged");
    await h.client.respondToPost({ postId, body: "hang in there" }, asMember);
    expect(await warmFeed(asMember)).toEqual(["flagged", "before"]);
    expect(await warmFeed(asOwner)).toEqual(["flagged", "before"]);

    const review = new TestCase(postTarget(circle, postId, author));
    await review.opened();
    await review.hidden();

    // Other members: as if it did not exist, warm cache or not.
    for (const auth of [asMember, asOwner]) {
      expect(await feed(auth)).toEqual(["before"]);
      expect(await circlePosts(circle, auth)).toEqual(["before"]);
      for (const call of [
        () => h.client.getPost({ postId }, auth),
        () => h.client.listResponses({ postId }, auth),
        () => h.client.respondToPost({ postId, body: "?" }, auth),
        () => h.client.deletePost({ postId }, auth),
      ]) {
        expect(await connectErrorOf(call())).toMatchObject({ code: Code.NotFound });
      }
    }
    // A platform moderator reviews it through moderation, not through the circle.
    expect(
      await connectErrorOf(h.client.deletePost({ postId }, await h.as(moderator, ["moderator"]))),
    ).toMatchObject({ code: Code.NotFound });

    // Its author still sees it, everywhere, with what others wrote before it was hidden.
    expect((await h.client.getPost({ postId }, asAuthor)).post?.body).toBe("flagged");
    expect(await feed(asAuthor)).toEqual(["flagged", "before"]);
    expect(await circlePosts(circle, asAuthor)).toEqual(["flagged", "before"]);
    expect(
      (await h.client.listResponses({ postId }, asAuthor)).responses.map((r) => r.body),
    ).toEqual(["hang in there"]);
    // But cannot change it or start a thread on it while it is reviewed.
    for (const call of [
      () => h.client.updatePost({ postId, body: "edited", expectedVersion: 2n }, asAuthor),
      () => h.client.respondToPost({ postId, body: "me again" }, asAuthor),
    ]) {
      expect(await connectErrorOf(call())).toMatchObject({
        code: Code.FailedPrecondition,
        rawMessage: expect.stringContaining("reviewed by moderators"),
      });
    }

    expect(await postRow(postId)).toMatchObject({
      hidden_by_case: review.id,
      hidden_at: expect.any(Date),
      deleted_at: null,
      version: "2",
    });
    const removed = await h.eventOf(contentEvents.postRemoved, postId);
    expect(removed.message).toMatchObject({
      postId,
      circleId: circle.id,
      authorId: author,
      removedBy: "",
      reason: RemovalReason.HELD_FOR_REVIEW,
      version: 2n,
    });
    expect(removed.event.header("Kindred-Actor-Id")).toBe("system:moderation");

    // The same hide again changes nothing and writes nothing.
    const events = await outboxSize();
    await review.hidden();
    expect(await outboxSize()).toBe(events);
    expect((await postRow(postId)).version).toBe("2");

    // Dismissed: back for everyone, with its restored event; the hold stays until released.
    expect(await warmFeed(asMember)).toEqual(["before"]);
    await review.decided(DecisionAction.DISMISS);
    expect(await feed(asMember)).toEqual(["flagged", "before"]);
    expect((await h.client.getPost({ postId }, asMember)).post).toMatchObject({
      body: "flagged",
      version: 3n,
    });
    expect(
      (await h.client.listResponses({ postId }, asMember)).responses.map((r) => r.body),
    ).toEqual(["hang in there"]);
    const restored = await h.eventOf(contentEvents.postRestored, postId);
    expect(restored.message).toMatchObject({
      postId,
      circleId: circle.id,
      authorId: author,
      caseId: review.id,
      version: 3n,
    });
    expect(restored.event.header("Kindred-Actor-Id")).toBe(moderator);
    expect(await postRow(postId)).toMatchObject({ hidden_by_case: null, hidden_at: null });
    expect(await holds(postId)).toEqual([review.id]);

    // Again: nothing. And a late hide of the decided case does not hide it again.
    const after = await outboxSize();
    await review.decided(DecisionAction.DISMISS);
    await review.hidden();
    expect(await outboxSize()).toBe(after);
    expect(await feed(asMember)).toEqual(["flagged", "before"]);
    // Editable again, at the version the restore gave it.
    await h.client.updatePost({ postId, body: "flagged, edited", expectedVersion: 3n }, asAuthor);
  });

  it("hides a response from everyone but its author, and a removal decision removes it", async () => {
    const { circle, author, asOwner, asAuthor, asMember } = await circleWithAuthor();
    const postId = await postBy(circle, asMember, "rough day");
    const first = await h.client.respondToPost({ postId, body: "you'll be fine" }, asOwner);
    const { response } = await h.client.respondToPost({ postId, body: "nasty" }, asAuthor);
    const responseId = response?.id ?? "";
    const review = new TestCase({
      kind: TargetKind.RESPONSE,
      id: responseId,
      postId,
      circleId: circle.id,
      userId: author,
    });
    await review.hidden();
    expect(await holds(responseId)).toEqual([review.id]);

    const responses = async (auth: Auth) =>
      (await h.client.listResponses({ postId }, auth)).responses.map((r) => r.body);
    expect(await responses(asMember)).toEqual(["you'll be fine"]);
    expect(await responses(asOwner)).toEqual(["you'll be fine"]);
    expect(await responses(asAuthor)).toEqual(["you'll be fine", "nasty"]);
    expect(await connectErrorOf(h.client.deleteResponse({ responseId }, asOwner))).toMatchObject({
      code: Code.NotFound,
    });
    const held = await h.eventOf(
      contentEvents.responseRemoved,
      postId,
      (m) => m.responseId === responseId,
    );
    expect(held.message).toMatchObject({
      circleId: circle.id,
      authorId: author,
      removedBy: "",
      reason: RemovalReason.HELD_FOR_REVIEW,
    });

    await review.decided(DecisionAction.REMOVE_CONTENT);
    expect(await responses(asAuthor)).toEqual(["you'll be fine"]);
    expect(await responseRow(responseId)).toMatchObject({
      deleted_at: expect.any(Date),
      removal_reason: "moderation",
      removed_by: moderator,
      removed_by_case: review.id,
      body: "nasty",
    });
    const removed = await h.eventOf(
      contentEvents.responseRemoved,
      postId,
      (m) => m.responseId === responseId && m.reason === RemovalReason.MODERATION,
    );
    expect(removed.message).toMatchObject({ removedBy: moderator, authorId: author });
    expect(removed.event.header("Kindred-Actor-Id")).toBe(moderator);

    // The appeal succeeds: back for everyone.
    await review.reversed();
    expect(await responses(asMember)).toEqual(["you'll be fine", "nasty"]);
    expect(await responseRow(responseId)).toMatchObject({
      deleted_at: null,
      removal_reason: null,
      removed_by: null,
      removed_by_case: null,
      hidden_by_case: null,
    });
    const restored = await h.eventOf(contentEvents.responseRestored, postId);
    expect(restored.message).toMatchObject({
      responseId,
      postId,
      circleId: circle.id,
      authorId: author,
      caseId: review.id,
    });
    expect(first.response?.id).toBeDefined();
  });
});

describe("removal by decision", () => {
  it("removes a post with reason MODERATION, once; a reversal restores it, once", async () => {
    const { circle, author, asAuthor, asMember } = await circleWithAuthor();
    const postId = await postBy(circle, asAuthor, "over the line");
    expect(await warmFeed(asMember)).toEqual(["over the line"]);
    const report = new TestCase(postTarget(circle, postId, author));
    await report.opened();
    await report.decided(DecisionAction.REMOVE_CONTENT);

    expect(await feed(asMember)).toEqual([]);
    expect(await feed(asAuthor)).toEqual([]);
    expect(await connectErrorOf(h.client.getPost({ postId }, asAuthor))).toMatchObject({
      code: Code.NotFound,
    });
    expect(await postRow(postId)).toMatchObject({
      deleted_at: expect.any(Date),
      removal_reason: "moderation",
      removed_by: moderator,
      removed_by_case: report.id,
      version: "2",
    });
    const removed = await h.eventOf(contentEvents.postRemoved, postId);
    expect(removed.message).toMatchObject({
      authorId: author,
      removedBy: moderator,
      reason: RemovalReason.MODERATION,
      version: 2n,
    });
    expect(await holds(postId)).toEqual([report.id]);

    const events = await outboxSize();
    await report.decided(DecisionAction.REMOVE_CONTENT);
    expect(await outboxSize()).toBe(events);

    await report.reversed();
    const { post } = await h.client.getPost({ postId }, asMember);
    expect(post).toMatchObject({ body: "over the line", version: 3n });
    // A restored post does not look edited.
    expect(post?.updatedAt).toBeUndefined();
    expect(await feed(asMember)).toEqual(["over the line"]);
    expect((await h.eventOf(contentEvents.postRestored, postId)).message).toMatchObject({
      caseId: report.id,
      version: 3n,
    });

    const restoredEvents = await outboxSize();
    await report.reversed();
    await report.decided(DecisionAction.REMOVE_CONTENT);
    expect(await outboxSize()).toBe(restoredEvents);
    expect(await feed(asMember)).toEqual(["over the line"]);
  });

  it("removes a post hidden for review, and a reversal shows it to everyone", async () => {
    const { circle, author, asAuthor, asMember } = await circleWithAuthor();
    const postId = await postBy(circle, asAuthor, "hidden, then removed");
    const review = new TestCase(postTarget(circle, postId, author));
    await review.hidden();
    await review.decided(DecisionAction.REMOVE_CONTENT);
    expect(await feed(asAuthor)).toEqual([]);
    const reasons = (await h.contentEvents())
      .filter((e) => e.subject === contentEvents.postRemoved.subject)
      .map((e) => e.decode(contentEvents.postRemoved))
      .filter((m) => m.postId === postId)
      .map((m) => m.reason);
    expect(reasons).toEqual([RemovalReason.HELD_FOR_REVIEW, RemovalReason.MODERATION]);

    await review.reversed();
    expect(await feed(asMember)).toEqual(["hidden, then removed"]);
    expect(await postRow(postId)).toMatchObject({ hidden_by_case: null, deleted_at: null });
  });

  it("never undoes a removal by anyone else, and a decision on another case never undoes one", async () => {
    const { circle, author, asAuthor, asMember } = await circleWithAuthor();
    const mine = await postBy(circle, asAuthor, "deleted by its author");
    const report = new TestCase(postTarget(circle, mine, author));
    await report.hidden();
    await h.client.deletePost({ postId: mine }, asAuthor);
    const events = await outboxSize();
    await report.decided(DecisionAction.DISMISS);
    await report.reversed();
    expect(await outboxSize()).toBe(events);
    expect(await postRow(mine)).toMatchObject({ removal_reason: "author" });

    const other = await postBy(circle, asAuthor, "removed by a decision");
    const removing = new TestCase(postTarget(circle, other, author));
    const dismissing = new TestCase(postTarget(circle, other, author));
    await removing.decided(DecisionAction.REMOVE_CONTENT);
    await dismissing.hidden();
    await dismissing.decided(DecisionAction.DISMISS);
    await dismissing.reversed(DecisionAction.DISMISS);
    expect(await feed(asMember)).toEqual([]);
    expect(await postRow(other)).toMatchObject({
      removal_reason: "moderation",
      removed_by_case: removing.id,
    });
  });
});

describe("several cases, and events in any order", () => {
  it("shows content again only when no case still hides it", async () => {
    const { circle, author, asAuthor, asMember } = await circleWithAuthor();
    const postId = await postBy(circle, asAuthor, "twice flagged");
    const first = new TestCase(postTarget(circle, postId, author));
    const second = new TestCase(postTarget(circle, postId, author));
    await first.hidden();

    // A decision on a case that does not hide it does not show it.
    const unrelated = new TestCase(postTarget(circle, postId, author));
    await unrelated.decided(DecisionAction.DISMISS);
    expect(await feed(asMember)).toEqual([]);
    expect((await postRow(postId)).hidden_by_case).toBe(first.id);

    await second.hidden();
    const events = await outboxSize();
    await first.decided(DecisionAction.WARN);
    // Still hidden, now by the second case; no reader saw a change, so no event.
    expect(await feed(asMember)).toEqual([]);
    expect(await postRow(postId)).toMatchObject({ hidden_by_case: second.id, version: "2" });
    expect(await outboxSize()).toBe(events);

    await second.decided(DecisionAction.DISMISS);
    expect(await feed(asMember)).toEqual(["twice flagged"]);
    expect((await h.eventOf(contentEvents.postRestored, postId)).message.caseId).toBe(second.id);
  });

  it("reaches the same state when a case's events arrive out of order", async () => {
    const { circle, author, asAuthor, asMember } = await circleWithAuthor();

    // The dismissal overtakes the hide: the late hide must not hide it for good.
    const shown = await postBy(circle, asAuthor, "dismissed early");
    const early = new TestCase(postTarget(circle, shown, author));
    await early.decided(DecisionAction.DISMISS);
    await early.hidden();
    expect(await feed(asMember)).toEqual(["dismissed early"]);

    // The reversal overtakes the removal: the late removal must not remove it.
    const kept = await postBy(circle, asAuthor, "appeal first");
    const appealed = new TestCase(postTarget(circle, kept, author));
    await appealed.reversed();
    await appealed.decided(DecisionAction.REMOVE_CONTENT);
    expect(await feed(asMember)).toEqual(["appeal first", "dismissed early"]);

    // The release overtakes the opening: the late opening must not hold it for good.
    const released = new TestCase(postTarget(circle, kept, author));
    await released.released();
    await released.opened();
    expect(await holds(kept)).toEqual([appealed.id]);
    expect(await holds(shown)).toEqual([early.id]);
  });

  it("refuses a decision it does not understand, leaving the content hidden", async () => {
    const { circle, author, asAuthor, asMember } = await circleWithAuthor();
    const postId = await postBy(circle, asAuthor, "new kind of decision");
    const review = new TestCase(postTarget(circle, postId, author));
    await review.hidden();
    const meta = await h.publish(
      moderationStream,
      moderationEvents.decisionMade,
      {
        decisionId: newId(),
        caseId: review.id,
        action: 99 as DecisionAction,
        target: review.target,
        decidedAt: now(),
      },
      review.id,
      moderator,
    );
    await waitFor(
      async () =>
        (await h.db.kysely
          .selectFrom("event_dead_letter")
          .select("error")
          .where("event_id", "=", meta.id)
          .executeTakeFirst()) ?? undefined,
      { what: "the decision dead-lettered", timeoutMs: 30_000 },
    );
    expect(await feed(asMember)).toEqual([]);
    expect((await postRow(postId)).hidden_by_case).toBe(review.id);
  }, 40_000);
});

describe("account deletion", () => {
  it("keeps removed-by-moderation content under hold, and makes its removal final", async () => {
    const { circle, author, asAuthor } = await circleWithAuthor();
    const postId = await postBy(circle, asAuthor, "evidence");
    const report = new TestCase(postTarget(circle, postId, author));
    await report.opened();
    await report.decided(DecisionAction.REMOVE_CONTENT);
    // Long enough ago for the purge to take it, were it not held.
    await h.db.kysely
      .updateTable("post")
      .set({ deleted_at: sql<Date>`now() - interval '2 hours'` })
      .where("id", "=", postId)
      .execute();

    const deleted = await h.publish(
      identityStream,
      identityEvents.userDeleted,
      { userId: author, deletedAt: now() },
      author,
    );
    await h.awaitHandled(deleted.id);
    expect(await postRow(postId)).toMatchObject({
      body: "evidence",
      removal_reason: "moderation",
      removed_by_case: null,
    });
    await purgeExpired(h.db, { now: new Date(), graceSeconds: 3_600 });
    expect((await postRow(postId)).body).toBe("evidence");

    // An appeal decided after the account is gone does not bring the post back.
    const events = await outboxSize();
    await report.reversed();
    expect(await outboxSize()).toBe(events);
    expect((await postRow(postId)).deleted_at).not.toBeNull();

    await report.released();
    await purgeExpired(h.db, { now: new Date(), graceSeconds: 3_600 });
    expect(
      await h.db.kysely.selectFrom("post").select("id").where("id", "=", postId).execute(),
    ).toEqual([]);
  });
});
