import { setTimeout as sleep } from "node:timers/promises";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { closedPort } from "@kindred/testing";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeedCache } from "../src/feed-cache.ts";
import { ContentHarness, newId } from "./harness.ts";

/**
 * The feed cache (src/feed-cache.ts, ADR 13): pages of ListFeed and ListCirclePosts in Redis,
 * invalidated by writes and by the projections, never stale on the next read; without Redis,
 * the same answers from the database.
 */

let h: ContentHarness;
beforeAll(async () => {
  h = await ContentHarness.start();
});
afterAll(() => h?.[Symbol.asyncDispose]());

type Auth = Awaited<ReturnType<ContentHarness["as"]>>;

/** `kindred_cache_requests_total{cache="feed",outcome}` from the service's /metrics. */
async function requests(harness: ContentHarness, outcome: "hit" | "miss" | "error") {
  const found = (await harness.metrics()).match(
    new RegExp(
      `kindred_cache_requests_total\\{[^}]*cache="feed",outcome="${outcome}"[^}]*\\} (\\d+)`,
    ),
  );
  if (found === null) throw new Error(`no feed cache ${outcome} count in /metrics`);
  return Number(found[1]);
}

const bodies = (page: { posts: { body: string }[] }) => page.posts.map((p) => p.body);

/** The caller's feed, read twice: the second read must be a cache hit with the same answer. */
async function warm(auth: Auth, circleId?: string): Promise<string[]> {
  const request = circleId === undefined ? {} : { circleId };
  const first = await h.client.listFeed(request, auth);
  const hits = await requests(h, "hit");
  const second = await h.client.listFeed(request, auth);
  expect(await requests(h, "hit")).toBe(hits + 1);
  expect(second).toEqual(first);
  return bodies(second);
}

const feed = async (auth: Auth) => bodies(await h.client.listFeed({}, auth));

describe("the feed cache", () => {
  it("answers a second identical read from Redis, exactly as the first", async () => {
    const me = newId();
    const circle = await h.createCircle(me);
    const asMe = await h.as(me);
    await h.client.createPost({ circleId: circle.id, body: "one", contentWarning: "cw" }, asMe);
    await h.client.createPost({ circleId: circle.id, body: "two", expiresInSeconds: 3600n }, asMe);

    const misses = await requests(h, "miss");
    expect(await warm(asMe)).toEqual(["two", "one"]);
    expect(await requests(h, "miss")).toBe(misses + 1);
    expect(await warm(asMe, circle.id)).toEqual(["two", "one"]);

    const hits = await requests(h, "hit");
    const first = await h.client.listCirclePosts({ circleId: circle.id, pageSize: 1 }, asMe);
    const second = await h.client.listCirclePosts({ circleId: circle.id, pageSize: 1 }, asMe);
    expect(second).toEqual(first);
    expect(await requests(h, "hit")).toBe(hits + 1);
    const next = await h.client.listCirclePosts(
      { circleId: circle.id, pageSize: 1, pageToken: first.nextPageToken },
      asMe,
    );
    expect(bodies(next)).toEqual(["one"]);
    // Another page size, page or reader is another entry.
    expect(await requests(h, "hit")).toBe(hits + 1);
  });

  it("shows every change on the very next read, never a stale page", async () => {
    const me = newId();
    const friend = newId();
    const mine = await h.createCircle(me);
    const theirs = await h.createCircle(friend);
    await theirs.join(me);
    const asMe = await h.as(me);
    const asFriend = await h.as(friend);
    await h.client.createPost({ circleId: mine.id, body: "mine" }, asMe);
    const ours = (await h.client.createPost({ circleId: theirs.id, body: "ours" }, asMe)).post;

    // A new post.
    expect(await warm(asMe)).toEqual(["ours", "mine"]);
    const hello = (await h.client.createPost({ circleId: theirs.id, body: "hello" }, asFriend))
      .post;
    expect(await feed(asMe)).toEqual(["hello", "ours", "mine"]);

    // An edit.
    expect(await warm(asMe)).toEqual(["hello", "ours", "mine"]);
    await h.client.updatePost(
      { postId: hello?.id ?? "", body: "hello, edited", expectedVersion: 1n },
      asFriend,
    );
    expect(await feed(asMe)).toEqual(["hello, edited", "ours", "mine"]);

    // A removal.
    expect(await warm(asMe)).toEqual(["hello, edited", "ours", "mine"]);
    await h.client.deletePost({ postId: ours?.id ?? "" }, asMe);
    expect(await feed(asMe)).toEqual(["hello, edited", "mine"]);

    // A block hides both ways at once, in both users' feeds; an unblock brings them back.
    await h.client.createPost({ circleId: theirs.id, body: "ours again" }, asMe);
    expect(await warm(asMe)).toEqual(["ours again", "hello, edited", "mine"]);
    expect(await warm(asFriend)).toEqual(["ours again", "hello, edited"]);
    await h.block(me, friend);
    expect(await feed(asMe)).toEqual(["ours again", "mine"]);
    expect(await feed(asFriend)).toEqual(["hello, edited"]);
    expect(await warm(asMe)).toEqual(["ours again", "mine"]);
    await h.unblock(me, friend);
    expect(await feed(asMe)).toEqual(["ours again", "hello, edited", "mine"]);

    // A leave, and a join again.
    expect(await warm(asMe)).toEqual(["ours again", "hello, edited", "mine"]);
    await theirs.leave(me);
    expect(await feed(asMe)).toEqual(["mine"]);
    expect(await warm(asMe)).toEqual(["mine"]);
    await theirs.join(me);
    expect(await feed(asMe)).toEqual(["ours again", "hello, edited", "mine"]);

    // A post that expires leaves the very next read, not one TTL later.
    // (The shortest expiry a client may ask for is a minute: the test moves it closer.)
    const brief = (
      await h.client.createPost({ circleId: mine.id, body: "brief", expiresInSeconds: 60n }, asMe)
    ).post;
    await h.db.kysely
      .updateTable("post")
      .set({ expires_at: sql<Date>`now() + interval '1 second'` })
      .where("id", "=", brief?.id ?? "")
      .execute();
    expect(await warm(asMe, mine.id)).toEqual(["brief", "mine"]);
    const cached = (await h.client.listFeed({ circleId: mine.id }, asMe)).posts[0]?.expiresAt;
    if (cached === undefined) throw new Error("the post has no expiry");
    await sleep(Math.max(0, timestampDate(cached).getTime() - Date.now()) + 20);
    expect(bodies(await h.client.listFeed({ circleId: mine.id }, asMe))).toEqual(["mine"]);
  });

  it("answers from the database, correctly, while Redis is unreachable", async () => {
    await using down = await ContentHarness.start({
      env: { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` },
      awaitRedis: false,
    });
    const readyz = await fetch(`${down.host.healthUrl}/readyz`);
    expect(readyz.status).toBe(200);
    const report = (await readyz.json()) as { checks: Record<string, { status: string }> };
    expect(report.checks.redis).toMatchObject({ status: "down", critical: false });

    const me = newId();
    const friend = newId();
    const circle = await down.createCircle(me);
    await circle.join(friend);
    const asMe = await down.as(me);
    const asFriend = await down.as(friend);
    const read = async () => bodies(await down.client.listFeed({}, asMe));
    const first = (await down.client.createPost({ circleId: circle.id, body: "one" }, asMe)).post;
    await down.client.createPost({ circleId: circle.id, body: "two" }, asFriend);
    expect(await read()).toEqual(["two", "one"]);
    expect(await read()).toEqual(["two", "one"]);
    await down.client.deletePost({ postId: first?.id ?? "" }, asMe);
    expect(await read()).toEqual(["two"]);
    await down.block(me, friend);
    expect(await read()).toEqual([]);
    expect(await requests(down, "hit")).toBe(0);
    expect(await requests(down, "error")).toBeGreaterThanOrEqual(4);
  });

  it("is off with FEED_CACHE_TTL_SECONDS=0: every read loads, invalidations still go out", async () => {
    const invalidated: string[][] = [];
    const redisFree = {
      getOrLoad: () => Promise.reject(new Error("the cache must not be read")),
      invalidate: async (...tags: string[]) => {
        invalidated.push(tags);
        return true;
      },
    } as unknown as ConstructorParameters<typeof FeedCache>[0]["cache"];
    const off = new FeedCache({ cache: redisFree, ttlSeconds: 0 });
    const page = { posts: [], nextPageToken: "" };
    const scope = {
      method: "ListFeed" as const,
      viewerId: "u",
      circleId: undefined,
      circles: ["c"],
      pageSize: 20,
      pageToken: "",
    };
    expect(await off.page(scope, async () => page)).toBe(page);
    await off.invalidate({ circles: ["c"], users: ["u"] });
    expect(invalidated).toEqual([["circle:c", "feed:user:u"]]);
  });
});
