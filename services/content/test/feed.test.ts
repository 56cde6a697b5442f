import { Code } from "@connectrpc/connect";
import { connectErrorOf } from "@kindred/service-kit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContentHarness, newId } from "./harness.ts";

let h: ContentHarness;
beforeAll(async () => {
  h = await ContentHarness.start();
});
afterAll(() => h?.[Symbol.asyncDispose]());

type Auth = Awaited<ReturnType<ContentHarness["as"]>>;

async function post(circleId: string, auth: Auth, body: string): Promise<string> {
  return (await h.client.createPost({ circleId, body }, auth)).post?.id ?? "";
}

/** Every page of the caller's feed (optionally filtered), in order. */
async function wholeFeed(auth: Auth, pageSize: number, circleId?: string): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await h.client.listFeed(
      { pageSize, pageToken, ...(circleId === undefined ? {} : { circleId }) },
      auth,
    );
    expect(page.posts.length).toBeLessThanOrEqual(pageSize);
    ids.push(...page.posts.map((p) => p.id));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return ids;
}

describe("ListFeed and ListCirclePosts", () => {
  it("lists posts of my circles only, newest first, and one circle on request", async () => {
    const me = newId();
    const other = newId();
    const a = await h.createCircle(me);
    const b = await h.createCircle(other);
    const c = await h.createCircle(other);
    await b.join(me);
    const asMe = await h.as(me);
    const asOther = await h.as(other);
    const p1 = await post(a.id, asMe, "a1");
    const p2 = await post(b.id, asOther, "b1");
    await post(c.id, asOther, "c1 — not my circle");
    const p3 = await post(b.id, asMe, "b2");

    expect(await wholeFeed(asMe, 10)).toEqual([p3, p2, p1]);
    expect(await wholeFeed(asMe, 1)).toEqual([p3, p2, p1]);
    expect(await wholeFeed(asMe, 10, b.id)).toEqual([p3, p2]);
    const circlePosts = await h.client.listCirclePosts({ circleId: b.id, pageSize: 1 }, asMe);
    expect(circlePosts.posts.map((p) => p.id)).toEqual([p3]);
    const next = await h.client.listCirclePosts(
      { circleId: b.id, pageSize: 1, pageToken: circlePosts.nextPageToken },
      asMe,
    );
    expect(next.posts.map((p) => p.id)).toEqual([p2]);

    // Left: the circle's posts leave my feed, and the circle refuses me.
    await b.leave(me);
    expect(await wholeFeed(asMe, 10)).toEqual([p1]);
    expect(await connectErrorOf(h.client.listCirclePosts({ circleId: b.id }, asMe))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "you are not a member of this circle",
    });
    expect(await connectErrorOf(h.client.listFeed({ circleId: c.id }, asMe))).toMatchObject({
      code: Code.PermissionDenied,
    });
    expect(await connectErrorOf(h.client.listFeed({ circleId: newId() }, asMe))).toMatchObject({
      code: Code.NotFound,
      rawMessage: "circle not found",
    });
  });

  it("pages by 20 by default", async () => {
    const me = newId();
    const circle = await h.createCircle(me);
    const asMe = await h.as(me);
    for (let i = 0; i < 21; i++) await post(circle.id, asMe, `post ${i}`);
    const first = await h.client.listFeed({}, asMe);
    expect(first.posts).toHaveLength(20);
    expect(first.posts[0]?.body).toBe("post 20");
    const second = await h.client.listFeed({ pageToken: first.nextPageToken }, asMe);
    expect(second.posts.map((p) => p.body)).toEqual(["post 0"]);
    expect(second.nextPageToken).toBe("");
  });

  it("stays stable while posts arrive: no item twice, none skipped", async () => {
    const me = newId();
    const circle = await h.createCircle(me);
    const asMe = await h.as(me);
    const original: string[] = [];
    for (let i = 0; i < 7; i++) original.unshift(await post(circle.id, asMe, `old ${i}`));

    const seen: string[] = [];
    let page = await h.client.listFeed({ pageSize: 3, circleId: circle.id }, asMe);
    seen.push(...page.posts.map((p) => p.id));
    const fresh = [await post(circle.id, asMe, "new 1"), await post(circle.id, asMe, "new 2")];
    while (page.nextPageToken !== "") {
      page = await h.client.listFeed(
        { pageSize: 3, circleId: circle.id, pageToken: page.nextPageToken },
        asMe,
      );
      seen.push(...page.posts.map((p) => p.id));
      await post(circle.id, asMe, "arrives while paging");
    }
    expect(seen).toEqual(original);
    const restarted = await wholeFeed(asMe, 100, circle.id);
    expect(restarted.slice(-9)).toEqual([...fresh.reverse(), ...original]);
  });

  it("breaks ties in created_at by id, at full microsecond precision", async () => {
    const me = newId();
    const circle = await h.createCircle(me);
    const asMe = await h.as(me);
    // Four posts in one microsecond, two more in the same millisecond, one a microsecond later.
    const times = [
      "2026-11-25 12:00:00.123456+00",
      "2026-11-25 12:00:00.123456+00",
      "2026-11-25 12:00:00.123456+00",
      "2026-11-25 12:00:00.123456+00",
      "2026-11-25 12:00:00.123001+00",
      "2026-11-25 12:00:00.123999+00",
      "2026-11-25 12:00:00.123457+00",
    ];
    const rows = times.map((at) => ({ id: newId(), at }));
    for (const row of rows) {
      await h.db.kysely
        .insertInto("post")
        .values({
          id: row.id,
          circle_id: circle.id,
          author_id: me,
          body: `at ${row.at}`,
          content_warning: null,
          expires_at: null,
          deleted_at: null,
          created_at: sql<Date>`${row.at}::timestamptz`,
          updated_at: sql<Date>`${row.at}::timestamptz`,
        })
        .execute();
    }
    const expected = [...rows]
      .sort((x, y) => (x.at === y.at ? (x.id < y.id ? 1 : -1) : x.at < y.at ? 1 : -1))
      .map((r) => r.id);
    expect(await wholeFeed(asMe, 1, circle.id)).toEqual(expected);
    expect(await wholeFeed(asMe, 2, circle.id)).toEqual(expected);
  });

  it("refuses page tokens that were forged or taken from another method, filter or user", async () => {
    const me = newId();
    const friend = newId();
    const circle = await h.createCircle(me);
    const other = await h.createCircle(me);
    await circle.join(friend);
    await other.join(friend);
    const asMe = await h.as(me);
    const asFriend = await h.as(friend);
    const postId = await post(circle.id, asMe, "one");
    await post(circle.id, asMe, "two");
    await post(other.id, asMe, "three");
    await h.client.respondToPost({ postId, body: "r1" }, asMe);
    await h.client.respondToPost({ postId, body: "r2" }, asMe);

    const feedToken = (await h.client.listFeed({ pageSize: 1 }, asMe)).nextPageToken;
    const filteredToken = (await h.client.listFeed({ pageSize: 1, circleId: circle.id }, asMe))
      .nextPageToken;
    const responsesToken = (await h.client.listResponses({ postId, pageSize: 1 }, asMe))
      .nextPageToken;
    expect([feedToken, filteredToken, responsesToken].every((t) => t !== "")).toBe(true);
    const tampered = `${feedToken.slice(0, -2)}${feedToken.endsWith("AA") ? "BB" : "AA"}`;

    const refused = [
      () => h.client.listFeed({ pageSize: 1, pageToken: tampered }, asMe),
      () => h.client.listFeed({ pageSize: 1, pageToken: "not a token" }, asMe),
      () => h.client.listFeed({ pageSize: 1, pageToken: feedToken }, asFriend),
      () => h.client.listFeed({ pageSize: 1, pageToken: feedToken, circleId: circle.id }, asMe),
      () => h.client.listFeed({ pageSize: 1, pageToken: filteredToken, circleId: other.id }, asMe),
      () => h.client.listCirclePosts({ circleId: circle.id, pageToken: filteredToken }, asMe),
      () => h.client.listResponses({ postId, pageToken: filteredToken }, asMe),
      () => h.client.listFeed({ pageToken: responsesToken }, asMe),
    ];
    for (const call of refused) {
      expect(await connectErrorOf(call())).toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: "page_token is not a token this method returned",
      });
    }
    // The genuine tokens still work.
    expect(
      (await h.client.listFeed({ pageSize: 1, pageToken: feedToken }, asMe)).posts,
    ).toHaveLength(1);
    expect(
      (await h.client.listResponses({ postId, pageSize: 1, pageToken: responsesToken }, asMe))
        .responses,
    ).toHaveLength(1);
  });

  it("never shows posts or responses across a block, in either direction", async () => {
    const me = newId();
    const blockedByMe = newId();
    const blockingMe = newId();
    const friend = newId();
    const circle = await h.createCircle(me);
    for (const user of [blockedByMe, blockingMe, friend]) await circle.join(user);
    const asMe = await h.as(me);
    const mine = await post(circle.id, asMe, "mine");
    const theirs = await post(circle.id, await h.as(blockedByMe), "from someone I block");
    const others = await post(circle.id, await h.as(blockingMe), "from someone who blocks me");
    const friends = await post(circle.id, await h.as(friend), "from a friend");
    await h.client.respondToPost(
      { postId: friends, body: "blocked reply" },
      await h.as(blockedByMe),
    );
    await h.client.respondToPost(
      { postId: friends, body: "blocking reply" },
      await h.as(blockingMe),
    );
    await h.client.respondToPost({ postId: friends, body: "friendly reply" }, await h.as(friend));

    await h.block(me, blockedByMe);
    await h.block(blockingMe, me);
    expect(await wholeFeed(asMe, 10)).toEqual([friends, mine]);
    expect(
      (await h.client.listCirclePosts({ circleId: circle.id }, asMe)).posts.map((p) => p.id),
    ).toEqual([friends, mine]);
    expect(
      (await h.client.listResponses({ postId: friends }, asMe)).responses.map((r) => r.body),
    ).toEqual(["friendly reply"]);
    // They do not see mine either.
    expect(
      (await h.client.listFeed({}, await h.as(blockingMe))).posts.map((p) => p.id),
    ).not.toContain(mine);
    expect(
      (await h.client.listFeed({}, await h.as(blockedByMe))).posts.map((p) => p.id),
    ).not.toContain(mine);

    await h.unblock(me, blockedByMe);
    expect(await wholeFeed(asMe, 10)).toEqual([friends, theirs, mine]);
    expect(await wholeFeed(asMe, 10)).not.toContain(others);
  });
});
