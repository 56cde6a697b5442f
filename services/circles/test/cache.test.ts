import { Code } from "@connectrpc/connect";
import { CircleRole, Visibility } from "@kindred/proto/circles/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { closedPort } from "@kindred/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CirclesUnderTest, newCircle, startCircles, type TestUser } from "./helpers.ts";

let circles: CirclesUnderTest;

beforeAll(async () => {
  circles = await startCircles();
});
afterAll(async () => {
  await circles?.[Symbol.asyncDispose]();
});

/** The cache requests `fn` made, by `<cache>:<outcome>` (from `/metrics`). */
async function counted(under: CirclesUnderTest, fn: () => Promise<unknown>) {
  const before = await under.cacheRequests();
  await fn();
  const after = await under.cacheRequests();
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0),
  );
}

const getCircle = async (u: TestUser, circleId: string) =>
  (await u.c.getCircle({ circleId })).circle;
const myCircles = async (u: TestUser) => (await u.c.listMyCircles({})).circles;
const notFound = async (u: TestUser, circleId: string) =>
  (await connectErrorOf(u.c.getCircle({ circleId }))).code === Code.NotFound;

describe("cache", () => {
  it("answers a second identical GetCircle or ListMyCircles from Redis", async () => {
    const owner = await circles.user();
    const first = await newCircle(owner, { name: "First" });
    const second = await newCircle(owner, { name: "Second" });

    const miss = await counted(circles, () => getCircle(owner, first.id));
    expect(miss).toEqual({ "circle:miss": 1 });
    let again: unknown;
    const hit = await counted(circles, async () => {
      // One entry per circle and caller, however the id is spelled.
      again = await getCircle(owner, first.id.toUpperCase());
    });
    expect(hit).toEqual({ "circle:hit": 1 });
    expect(again).toEqual(await getCircle(owner, first.id));

    const page = () => owner.c.listMyCircles({ pageSize: 1 });
    expect(await counted(circles, page)).toEqual({
      "circle-list:miss": 1,
      "circle-list-rows:miss": 1,
    });
    expect(await counted(circles, page)).toEqual({
      "circle-list:hit": 1,
      "circle-list-rows:hit": 1,
    });
    const { circles: top, nextPageToken } = await page();
    expect(top.map((c) => c.name)).toEqual(["Second"]);
    expect(top[0]).toEqual(second);
    // The next page is an entry of its own.
    const next = () => owner.c.listMyCircles({ pageSize: 1, pageToken: nextPageToken });
    expect((await next()).circles.map((c) => c.name)).toEqual(["First"]);
    expect(await counted(circles, next)).toEqual({
      "circle-list:hit": 1,
      "circle-list-rows:hit": 1,
    });
  });

  it("shows every change at the very next read", async () => {
    const owner = await circles.user();
    const member = await circles.user();
    expect(await myCircles(owner)).toEqual([]);
    const { id } = await newCircle(owner, { name: "Before" });
    expect((await myCircles(owner)).map((c) => c.name)).toEqual(["Before"]);
    expect(await myCircles(member)).toEqual([]);
    expect(await getCircle(owner, id)).toMatchObject({ memberCount: 1, version: 2n });

    await member.c.joinCircle({ circleId: id });
    expect(await myCircles(member)).toMatchObject([{ id, memberCount: 2, version: 3n }]);
    expect(await getCircle(owner, id)).toMatchObject({ memberCount: 2, version: 3n });
    expect(await myCircles(owner)).toMatchObject([{ memberCount: 2 }]);

    await owner.c.updateCircle({ circleId: id, name: "After", expectedVersion: 3n });
    expect(await getCircle(owner, id)).toMatchObject({ name: "After", version: 4n });
    expect(await myCircles(member)).toMatchObject([{ name: "After", version: 4n }]);

    await owner.c.setMemberRole({ circleId: id, userId: member.id, role: CircleRole.MODERATOR });
    expect(await getCircle(member, id)).toMatchObject({ version: 5n });
    expect(await myCircles(owner)).toMatchObject([{ version: 5n }]);

    await member.c.leaveCircle({ circleId: id });
    expect(await myCircles(member)).toEqual([]);
    expect(await getCircle(owner, id)).toMatchObject({ memberCount: 1, version: 6n });

    await member.c.joinCircle({ circleId: id });
    expect(await myCircles(member)).toMatchObject([{ id, memberCount: 2 }]);
    await owner.c.removeMember({ circleId: id, userId: member.id });
    expect(await myCircles(member)).toEqual([]);
    expect(await getCircle(owner, id)).toMatchObject({ memberCount: 1, version: 8n });

    await member.c.joinCircle({ circleId: id });
    expect(await myCircles(member)).toMatchObject([{ id, memberCount: 2 }]);
    await owner.c.banMember({ circleId: id, userId: member.id, reason: "spam" });
    expect(await myCircles(member)).toEqual([]);
    expect(await getCircle(owner, id)).toMatchObject({ memberCount: 1, version: 10n });

    await owner.c.archiveCircle({ circleId: id });
    expect((await getCircle(owner, id))?.archivedAt).toBeDefined();
    expect((await myCircles(owner))[0]?.archivedAt).toBeDefined();
  });

  it("applies the access rules to cached entries on every read", async () => {
    const owner = await circles.user();
    const member = await circles.user();
    const stranger = await circles.user();
    const secret = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    const { invite } = await owner.c.createInvite({ circleId: secret.id });
    await member.c.joinCircle({ circleId: secret.id, inviteCode: invite?.code });

    await getCircle(member, secret.id);
    expect(await notFound(stranger, secret.id)).toBe(true);
    expect(
      await counted(circles, async () => {
        expect(await getCircle(member, secret.id)).toMatchObject({ id: secret.id });
        expect(await notFound(stranger, secret.id)).toBe(true);
      }),
    ).toEqual({ "circle:hit": 2 });

    // Platform staff see it; the same user with a token without the role does not, from the
    // very entry the staff read stored: the cache keeps the data, never the decision.
    const staff = await circles.user(["member", "moderator"]);
    expect(await getCircle(staff, secret.id)).toMatchObject({ id: secret.id });
    const demoted = await circles.user(["member"], staff.id);
    expect(
      await counted(circles, async () => expect(await notFound(demoted, secret.id)).toBe(true)),
    ).toEqual({ "circle:hit": 1 });

    // A removed member loses sight of it at once.
    await owner.c.removeMember({ circleId: secret.id, userId: member.id });
    expect(await notFound(member, secret.id)).toBe(true);

    // So does a stranger, once an open circle they read becomes invite-only.
    const open = await newCircle(owner);
    expect(await getCircle(stranger, open.id)).toMatchObject({ id: open.id });
    await owner.c.updateCircle({
      circleId: open.id,
      visibility: Visibility.INVITE_ONLY,
      expectedVersion: 2n,
    });
    expect(await notFound(stranger, open.id)).toBe(true);

    // A page token is checked on every read, cached page or not: it is the owner's alone.
    const page = () => owner.c.listMyCircles({ pageSize: 1 });
    await page();
    const { nextPageToken } = await page();
    expect(nextPageToken).not.toBe("");
    const moved = await connectErrorOf(
      stranger.c.listMyCircles({ pageSize: 1, pageToken: nextPageToken }),
    );
    expect(moved.code).toBe(Code.InvalidArgument);
  });

  it("answers from the database, and stays ready, while Redis is unreachable", async () => {
    await using down = await startCircles({
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    });
    const report = await down.app.host.readiness.report();
    expect(report.ready).toBe(true);
    expect(report.checks.redis).toMatchObject({ status: "down", critical: false });

    const owner = await down.user();
    const member = await down.user();
    const stranger = await down.user();
    const requests = await counted(down, async () => {
      const { id } = await newCircle(owner, {
        name: "Offline",
        visibility: Visibility.INVITE_ONLY,
      });
      const { invite } = await owner.c.createInvite({ circleId: id });
      expect(await getCircle(owner, id)).toMatchObject({ name: "Offline", memberCount: 1 });
      expect(await myCircles(member)).toEqual([]);
      await member.c.joinCircle({ circleId: id, inviteCode: invite?.code });
      expect(await myCircles(member)).toMatchObject([{ id, memberCount: 2 }]);
      await owner.c.updateCircle({ circleId: id, name: "Still here", expectedVersion: 3n });
      expect(await getCircle(member, id)).toMatchObject({ name: "Still here", version: 4n });
      expect(await notFound(stranger, id)).toBe(true);
    });
    expect(requests).toEqual({
      "circle:error": 3,
      "circle-list:error": 2,
      "circle-list-rows:error": 1,
    });
  });
});
