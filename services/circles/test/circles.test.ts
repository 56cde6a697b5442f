import { randomUUID } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { CircleRole, Visibility } from "@kindred/proto/circles/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CirclesUnderTest,
  expectInOrder,
  newCircle,
  startCircles,
  type TestUser,
} from "./helpers.ts";

let circles: CirclesUnderTest;

beforeAll(async () => {
  circles = await startCircles();
});
afterAll(async () => {
  await circles?.[Symbol.asyncDispose]();
});

/** Rows of a table, for "nothing changed" checks. */
async function count(table: "circle" | "circle_member" | "event_outbox"): Promise<number> {
  const row = await circles.app.deps.db.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Every page of a list, following next_page_token. */
async function allPages<T>(
  fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token = "";
  let pages = 0;
  do {
    const page = await fetch(token);
    items.push(...page.items);
    token = page.next;
    pages += 1;
  } while (token !== "" && pages < 100);
  return { items, pages };
}

describe("creating and reading circles", () => {
  it("creates a circle with the caller as owner and its events, in order", async () => {
    const owner = await circles.user();
    const { circle } = await owner.c.createCircle({
      name: "  Night owls  ",
      description: " For the ones awake at 3 am ",
      visibility: Visibility.OPEN,
    });
    expect(circle).toMatchObject({
      name: "Night owls",
      description: "For the ones awake at 3 am",
      visibility: Visibility.OPEN,
      memberCount: 1,
      version: 2n,
    });
    expect(circle?.archivedAt).toBeUndefined();
    const id = circle?.id ?? "";

    const { members } = await owner.c.listMembers({ circleId: id });
    expect(members).toEqual([
      expect.objectContaining({ circleId: id, userId: owner.id, role: CircleRole.OWNER }),
    ]);
    expect((await owner.c.getCircle({ circleId: id })).circle).toEqual(circle);

    const events = await circles.eventsOf(id);
    expectInOrder(events, id);
    expect(events.map((e) => e.subject)).toEqual([
      "circles.circle.created.v1",
      "circles.member.joined.v1",
    ]);
    expect(events[0]?.message).toMatchObject({
      name: "Night owls",
      visibility: Visibility.OPEN,
      ownerId: owner.id,
    });
    expect(events[1]?.message).toMatchObject({ userId: owner.id, role: CircleRole.OWNER });
    expect(events[0]?.header("Kindred-Actor-Id")).toBe(owner.id);
  });

  it("refuses bad input with the field named, and changes nothing", async () => {
    const owner = await circles.user();
    const before = {
      circles: await count("circle"),
      members: await count("circle_member"),
      outbox: await count("event_outbox"),
    };
    const bad = [
      { name: "", description: "", visibility: Visibility.OPEN },
      { name: "x".repeat(81), description: "", visibility: Visibility.OPEN },
      { name: "ok", description: "x".repeat(1001), visibility: Visibility.OPEN },
      { name: "ok", description: "", visibility: Visibility.UNSPECIFIED },
      { name: "ok", description: "", visibility: 7 as Visibility },
    ];
    for (const req of bad) {
      const err = await connectErrorOf(owner.c.createCircle(req));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(/name|description|visibility/);
    }
    const blank = await connectErrorOf(
      owner.c.createCircle({ name: "   ", description: "", visibility: Visibility.OPEN }),
    );
    expect(blank).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "name must not be blank",
    });
    expect(
      await connectErrorOf(
        circles.anonymous.createCircle({ name: "a", description: "", visibility: 1 }),
      ),
    ).toMatchObject({ code: Code.Unauthenticated });
    expect({
      circles: await count("circle"),
      members: await count("circle_member"),
      outbox: await count("event_outbox"),
    }).toEqual(before);
  });

  it("answers not_found for unknown circles, and for invite-only circles a caller may not see", async () => {
    const owner = await circles.user();
    const stranger = await circles.user();
    const unknown = randomUUID();
    const hidden = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    for (const circleId of [unknown, hidden.id]) {
      for (const call of [
        () => stranger.c.getCircle({ circleId }),
        () => stranger.c.listMembers({ circleId }),
        () => stranger.c.createInvite({ circleId }),
        () => stranger.c.joinCircle({ circleId }),
        () => stranger.c.updateCircle({ circleId, name: "x", expectedVersion: 2n }),
        () => stranger.c.archiveCircle({ circleId }),
        () => stranger.c.setMemberRole({ circleId, userId: owner.id, role: CircleRole.MEMBER }),
        () => stranger.c.removeMember({ circleId, userId: owner.id }),
        () => stranger.c.banMember({ circleId, userId: owner.id }),
        () => stranger.c.unbanMember({ circleId, userId: owner.id }),
        () => stranger.c.listBans({ circleId }),
        () => stranger.c.revokeInvite({ circleId, code: "abcdefghij" }),
      ]) {
        const err = await connectErrorOf(call());
        expect(err).toMatchObject({ code: Code.NotFound, rawMessage: "circle not found" });
      }
    }
    // Leaving an unknown circle is not_found; leaving one you are not in changes nothing.
    expect(await connectErrorOf(stranger.c.leaveCircle({ circleId: unknown }))).toMatchObject({
      code: Code.NotFound,
    });
    await expect(stranger.c.leaveCircle({ circleId: hidden.id })).resolves.toEqual(
      expect.anything(),
    );
    // Platform staff see every circle.
    const staff = await circles.user(["member", "moderator"]);
    expect((await staff.c.getCircle({ circleId: hidden.id })).circle?.id).toBe(hidden.id);
  });
});

describe("updating and archiving", () => {
  it("updates settings with optimistic concurrency: a stale version is aborted and changes nothing", async () => {
    const owner = await circles.user();
    const joiner = await circles.user();
    const circle = await newCircle(owner, { name: "Before", description: "old" });
    const { circle: updated } = await owner.c.updateCircle({
      circleId: circle.id,
      name: " After ",
      expectedVersion: circle.version,
    });
    expect(updated).toMatchObject({
      name: "After",
      description: "old",
      visibility: Visibility.OPEN,
      version: circle.version + 1n,
    });

    // The version counts membership changes too: a join makes a read stale.
    await joiner.c.joinCircle({ circleId: circle.id });
    const stale = await connectErrorOf(
      owner.c.updateCircle({
        circleId: circle.id,
        description: "new",
        expectedVersion: updated?.version ?? 0n,
      }),
    );
    expect(stale.code).toBe(Code.Aborted);
    expect(stale.rawMessage).toContain("now version 4");
    const current = (await owner.c.getCircle({ circleId: circle.id })).circle;
    expect(current).toMatchObject({ description: "old", version: 4n, memberCount: 2 });

    const { circle: again } = await owner.c.updateCircle({
      circleId: circle.id,
      description: "",
      visibility: Visibility.INVITE_ONLY,
      expectedVersion: 4n,
    });
    expect(again).toMatchObject({
      description: "",
      visibility: Visibility.INVITE_ONLY,
      version: 5n,
    });
    // Nothing to change: the circle as it is, no new version, no event.
    const { circle: same } = await owner.c.updateCircle({
      circleId: circle.id,
      name: "After",
      expectedVersion: 5n,
    });
    expect(same?.version).toBe(5n);

    // Validation: at least one field, a valid version, a non-blank name.
    for (const req of [
      { circleId: circle.id, expectedVersion: 5n },
      { circleId: circle.id, name: "x", expectedVersion: 0n },
      { circleId: circle.id, visibility: Visibility.UNSPECIFIED, expectedVersion: 5n },
    ]) {
      expect((await connectErrorOf(owner.c.updateCircle(req))).code).toBe(Code.InvalidArgument);
    }
    expect(
      await connectErrorOf(
        owner.c.updateCircle({ circleId: circle.id, name: "  ", expectedVersion: 5n }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, rawMessage: "name must not be blank" });

    const events = await circles.eventsOf(circle.id);
    expectInOrder(events, circle.id);
    expect(events.map((e) => e.subject)).toEqual([
      "circles.circle.created.v1",
      "circles.member.joined.v1",
      "circles.circle.updated.v1",
      "circles.member.joined.v1",
      "circles.circle.updated.v1",
    ]);
    expect(events[4]?.message).toMatchObject({
      name: "After",
      description: "",
      visibility: Visibility.INVITE_ONLY,
      updatedBy: owner.id,
    });
  });

  it("archives: read-only, out of discovery, still readable by members; joins, invites, updates and roles refused", async () => {
    const owner = await circles.user();
    const member = await circles.user();
    const outsider = await circles.user();
    const name = `Archive me ${randomUUID()}`;
    const circle = await newCircle(owner, { name });
    await member.c.joinCircle({ circleId: circle.id });
    const { circle: archived } = await owner.c.archiveCircle({ circleId: circle.id });
    expect(archived?.archivedAt).toBeDefined();
    expect(archived?.version).toBe(4n);
    // Archiving again changes nothing.
    expect((await owner.c.archiveCircle({ circleId: circle.id })).circle?.version).toBe(4n);

    const discovered = await outsider.c.discoverCircles({ query: name });
    expect(discovered.circles).toEqual([]);
    expect((await member.c.getCircle({ circleId: circle.id })).circle?.archivedAt).toBeDefined();
    expect((await member.c.listMyCircles({})).circles.map((c) => c.id)).toContain(circle.id);

    const refused = [
      () => outsider.c.joinCircle({ circleId: circle.id }),
      () => member.c.createInvite({ circleId: circle.id }),
      () => owner.c.updateCircle({ circleId: circle.id, name: "x", expectedVersion: 4n }),
      () =>
        owner.c.setMemberRole({
          circleId: circle.id,
          userId: member.id,
          role: CircleRole.MODERATOR,
        }),
    ];
    for (const call of refused) {
      const err = await connectErrorOf(call());
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toMatch(/^the circle is archived and read-only/);
    }
    // Access can still be taken away: a member leaves.
    await member.c.leaveCircle({ circleId: circle.id });
    expect((await owner.c.getCircle({ circleId: circle.id })).circle?.memberCount).toBe(1);

    const events = await circles.eventsOf(circle.id);
    expectInOrder(events, circle.id);
    expect(events.map((e) => e.subject)).toEqual([
      "circles.circle.created.v1",
      "circles.member.joined.v1",
      "circles.member.joined.v1",
      "circles.circle.archived.v1",
      "circles.member.left.v1",
    ]);
    expect(events[3]?.message).toMatchObject({ archivedBy: owner.id });
    expect(events[3]?.message.archivedAt).toEqual(archived?.archivedAt);
  });
});

describe("lists", () => {
  it("lists my circles, most recently joined first, in pages that survive new joins", async () => {
    const me = await circles.user();
    const other = await circles.user();
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await newCircle(me)).id);
    const joined = await newCircle(other);
    await me.c.joinCircle({ circleId: joined.id });
    mine.push(joined.id);
    await newCircle(other); // not mine

    const first = await me.c.listMyCircles({ pageSize: 4 });
    expect(first.circles.map((c) => c.id)).toEqual(mine.toReversed().slice(0, 4));
    // A circle joined while paging does not shift the pages.
    const late = await newCircle(me);
    const second = await me.c.listMyCircles({ pageSize: 4, pageToken: first.nextPageToken });
    expect(second.circles.map((c) => c.id)).toEqual(mine.toReversed().slice(4));
    expect(second.nextPageToken).toBe("");
    expect((await me.c.listMyCircles({})).circles.map((c) => c.id)).toEqual([
      late.id,
      ...mine.toReversed(),
    ]);
    // Someone else's token is not mine.
    const theirs = await other.c.listMyCircles({ pageSize: 1 });
    expect(
      await connectErrorOf(me.c.listMyCircles({ pageToken: theirs.nextPageToken })),
    ).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "page_token is not a token this method returned",
    });
  });

  it("discovers open, active circles by name and description, best match first", async () => {
    const owner = await circles.user();
    const seeker = await circles.user();
    const tag = randomUUID().slice(0, 8);
    const starts = await newCircle(owner, { name: `${tag} grief support` });
    const contains = await newCircle(owner, { name: `Walking with ${tag.toUpperCase()}` });
    const described = await newCircle(owner, {
      name: "Described",
      description: `A place for ${tag} people`,
    });
    const newerStart = await newCircle(owner, { name: `${tag}: new parents` });
    await newCircle(owner, { name: `${tag} hidden`, visibility: Visibility.INVITE_ONLY });
    const archived = await newCircle(owner, { name: `${tag} archived` });
    await owner.c.archiveCircle({ circleId: archived.id });

    const found = await seeker.c.discoverCircles({ query: ` ${tag.toUpperCase()} ` });
    expect(found.circles.map((c) => c.id)).toEqual([
      newerStart.id,
      starts.id,
      contains.id,
      described.id,
    ]);
    expect(found.nextPageToken).toBe("");

    // One at a time, the same order.
    const paged = await allPages(async (pageToken) => {
      const page = await seeker.c.discoverCircles({ query: tag, pageSize: 1, pageToken });
      return { items: page.circles.map((c) => c.id), next: page.nextPageToken };
    });
    expect(paged).toEqual({ items: found.circles.map((c) => c.id), pages: 4 });

    // LIKE wildcards are literal; no query lists every open circle, newest first.
    expect((await seeker.c.discoverCircles({ query: `${tag}%` })).circles).toEqual([]);
    expect((await seeker.c.discoverCircles({ query: "_" })).circles).toEqual([]);
    const everything = await allPages(async (pageToken) => {
      const page = await seeker.c.discoverCircles({ pageSize: 3, pageToken });
      return { items: page.circles, next: page.nextPageToken };
    });
    const ids = everything.items.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([starts.id, contains.id, described.id]));
    expect(everything.items.every((c) => c.visibility === Visibility.OPEN && !c.archivedAt)).toBe(
      true,
    );
    const created = everything.items.map((c) => (c.createdAt ? timestampDate(c.createdAt) : 0));
    expect(created).toEqual(created.toSorted((a, b) => Number(b) - Number(a)));

    // A token is bound to its query.
    const page1 = await seeker.c.discoverCircles({ query: tag, pageSize: 1 });
    expect(
      await connectErrorOf(
        seeker.c.discoverCircles({ query: "other", pageToken: page1.nextPageToken }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument });
    expect((await connectErrorOf(seeker.c.discoverCircles({ query: "x".repeat(101) }))).code).toBe(
      Code.InvalidArgument,
    );
  });

  it("refuses forged, edited and moved page tokens, and page sizes out of range", async () => {
    const owner = await circles.user();
    const circle = await newCircle(owner);
    for (let i = 0; i < 3; i++) await (await circles.user()).c.joinCircle({ circleId: circle.id });
    const other = await newCircle(owner);
    await (await circles.user()).c.joinCircle({ circleId: other.id });
    const page = await owner.c.listMembers({ circleId: circle.id, pageSize: 1 });
    const token = page.nextPageToken;
    expect(token).not.toBe("");
    const bytes = Buffer.from(token, "base64url");
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 1;
    const forged = [
      "garbage",
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      bytes.toString("base64url"),
      `${token}x`,
    ];
    const calls = (pageToken: string) => [
      () => owner.c.listMembers({ circleId: circle.id, pageToken }),
      () => owner.c.listMyCircles({ pageToken }),
      () => owner.c.discoverCircles({ pageToken }),
      () => owner.c.listBans({ circleId: circle.id, pageToken }),
    ];
    for (const pageToken of forged) {
      for (const call of calls(pageToken)) {
        expect(await connectErrorOf(call())).toMatchObject({
          code: Code.InvalidArgument,
          rawMessage: "page_token is not a token this method returned",
        });
      }
    }
    // The same token on another circle, another method, or for another user.
    const admin = await circles.user(["member", "admin"]);
    const moved = [
      () => owner.c.listMembers({ circleId: other.id, pageToken: token }),
      () => owner.c.listBans({ circleId: circle.id, pageToken: token }),
      () => owner.c.listMyCircles({ pageToken: token }),
      () => admin.c.listMembers({ circleId: circle.id, pageToken: token }),
    ];
    for (const call of moved) {
      expect((await connectErrorOf(call())).code).toBe(Code.InvalidArgument);
    }
    for (const pageSize of [-1, 101]) {
      for (const call of [
        () => owner.c.listMembers({ circleId: circle.id, pageSize }),
        () => owner.c.listMyCircles({ pageSize }),
        () => owner.c.discoverCircles({ pageSize }),
        () => owner.c.listBans({ circleId: circle.id, pageSize }),
      ]) {
        const err = await connectErrorOf(call());
        expect(err.code).toBe(Code.InvalidArgument);
        expect(err.rawMessage).toContain("page_size");
      }
    }
    // The page after the token still works, and 0 means the default.
    const rest = await owner.c.listMembers({ circleId: circle.id, pageToken: token });
    expect(rest.members).toHaveLength(3);
    expect((await owner.c.listMembers({ circleId: circle.id, pageSize: 0 })).members).toHaveLength(
      4,
    );
  });

  it("pages through a circle's members: owners, moderators, then members by join time", async () => {
    const owner = await circles.user();
    const circle = await newCircle(owner);
    const joiners: TestUser[] = [];
    for (let i = 0; i < 6; i++) {
      const u = await circles.user();
      await u.c.joinCircle({ circleId: circle.id });
      joiners.push(u);
    }
    const [a, b, c, d, e, f] = joiners.map((u) => u.id);
    await owner.c.setMemberRole({ circleId: circle.id, userId: d ?? "", role: CircleRole.OWNER });
    await owner.c.setMemberRole({
      circleId: circle.id,
      userId: b ?? "",
      role: CircleRole.MODERATOR,
    });
    const listed = await allPages(async (pageToken) => {
      const page = await owner.c.listMembers({ circleId: circle.id, pageSize: 2, pageToken });
      return { items: page.members, next: page.nextPageToken };
    });
    expect(listed.items.map((m) => m.userId)).toEqual([owner.id, d, b, a, c, e, f]);
    expect(listed.items.map((m) => m.role)).toEqual([
      CircleRole.OWNER,
      CircleRole.OWNER,
      CircleRole.MODERATOR,
      CircleRole.MEMBER,
      CircleRole.MEMBER,
      CircleRole.MEMBER,
      CircleRole.MEMBER,
    ]);
    expect(listed.pages).toBe(4);
  });
});
