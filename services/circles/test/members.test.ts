import { Code } from "@connectrpc/connect";
import { CircleRole, Visibility } from "@kindred/proto/circles/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type CirclesUnderTest,
  dateOf,
  expectInOrder,
  newCircle,
  startCircles,
  type TestUser,
} from "./helpers.ts";

let circles: CirclesUnderTest;

beforeAll(async () => {
  circles = await startCircles();
});
afterEach(() => {
  circles.clock.reset();
});
afterAll(async () => {
  await circles?.[Symbol.asyncDispose]();
});

const minute = 60_000;

/** What must not move when a request is refused. */
async function snapshot(circleId: string) {
  const db = circles.app.deps.db.kysely;
  const circle = await db
    .selectFrom("circle")
    .select(["version", "member_count"])
    .where("id", "=", circleId)
    .executeTakeFirstOrThrow();
  const invites = await db
    .selectFrom("circle_invite")
    .select(["id", "uses", "revoked_at"])
    .where("circle_id", "=", circleId)
    .orderBy("id")
    .execute();
  const outbox = await db
    .selectFrom("event_outbox")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .executeTakeFirstOrThrow();
  return { circle, invites, outbox: outbox.n };
}

async function memberIds(owner: TestUser, circleId: string): Promise<string[]> {
  const { members } = await owner.c.listMembers({ circleId, pageSize: 100 });
  return members.map((m) => m.userId).sort();
}

describe("joining and leaving", () => {
  it("joins an open circle; joining twice and leaving twice are not errors", async () => {
    const owner = await circles.user();
    const joiner = await circles.user();
    const circle = await newCircle(owner);

    const first = await joiner.c.joinCircle({ circleId: circle.id });
    expect(first.circle).toMatchObject({ id: circle.id, memberCount: 2, version: 3n });
    expect(first.member).toMatchObject({
      circleId: circle.id,
      userId: joiner.id,
      role: CircleRole.MEMBER,
    });
    const again = await joiner.c.joinCircle({ circleId: circle.id });
    expect(again.circle).toMatchObject({ memberCount: 2, version: 3n });
    expect(again.member).toEqual(first.member);
    // The owner "joining" their own circle keeps their role.
    expect((await owner.c.joinCircle({ circleId: circle.id })).member?.role).toBe(CircleRole.OWNER);

    await joiner.c.leaveCircle({ circleId: circle.id });
    await joiner.c.leaveCircle({ circleId: circle.id });
    expect((await owner.c.getCircle({ circleId: circle.id })).circle).toMatchObject({
      memberCount: 1,
      version: 4n,
    });
    expect((await joiner.c.listMyCircles({})).circles).toEqual([]);
    // And may come back.
    expect((await joiner.c.joinCircle({ circleId: circle.id })).circle?.version).toBe(5n);

    const events = await circles.eventsOf(circle.id);
    expectInOrder(events, circle.id);
    expect(events.map((e) => e.subject)).toEqual([
      "circles.circle.created.v1",
      "circles.member.joined.v1",
      "circles.member.joined.v1",
      "circles.member.left.v1",
      "circles.member.joined.v1",
    ]);
    expect(events[2]?.message).toMatchObject({ userId: joiner.id, role: CircleRole.MEMBER });
    expect(events[2]?.message.joinedAt).toEqual(first.member?.joinedAt);
    expect(events[3]?.message).toMatchObject({ userId: joiner.id });
    expect(events[3]?.header("Kindred-Actor-Id")).toBe(joiner.id);
  });

  it("keeps versions and member counts exact under concurrent joins and leaves", async () => {
    const owner = await circles.user();
    const circle = await newCircle(owner);
    const users = await Promise.all(Array.from({ length: 12 }, () => circles.user()));
    await Promise.all(users.map((u) => u.c.joinCircle({ circleId: circle.id })));
    await Promise.all(
      users.slice(0, 4).flatMap((u) => [
        u.c.leaveCircle({ circleId: circle.id }),
        u.c.joinCircle({ circleId: circle.id }), // a duplicate join racing the leave
      ]),
    );
    const { circle: after } = await owner.c.getCircle({ circleId: circle.id });
    const members = await memberIds(owner, circle.id);
    expect(after?.memberCount).toBe(members.length);
    const events = await circles.eventsOf(circle.id);
    expectInOrder(events, circle.id);
    expect(BigInt(events.length)).toBe(after?.version);
  });
});

describe("invites", () => {
  it("lets people into an invite-only circle only with a usable code: max uses, expiry, revoke", async () => {
    const owner = await circles.user();
    const circle = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    const people = await Promise.all(Array.from({ length: 6 }, () => circles.user()));
    const [a, b, c, d, e] = people as [TestUser, TestUser, TestUser, TestUser, TestUser];

    // Without a code, or with a code that is not this circle's, the circle is not there.
    for (const inviteCode of [undefined, "not-a-real-code-123"]) {
      expect(
        await connectErrorOf(a.c.joinCircle({ circleId: circle.id, inviteCode })),
      ).toMatchObject({ code: Code.NotFound });
    }

    const before = Date.now();
    const { invite } = await owner.c.createInvite({
      circleId: circle.id,
      maxUses: 2,
      expiresInSeconds: 3600n,
    });
    const code = invite?.code ?? "";
    expect(code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(code, "base64url")).toHaveLength(16);
    expect(invite).toMatchObject({ circleId: circle.id, createdBy: owner.id, maxUses: 2, uses: 0 });
    const expiresAt = dateOf(invite?.expiresAt).getTime();
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000);
    expect(expiresAt).toBeLessThan(Date.now() + 3600_000 + 1000);
    // Only its hash is stored.
    const stored = await circles.app.deps.db.kysely
      .selectFrom("circle_invite")
      .selectAll()
      .where("circle_id", "=", circle.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(code);

    expect((await a.c.joinCircle({ circleId: circle.id, inviteCode: code })).circle).toMatchObject({
      memberCount: 2,
    });
    // A member joining again with the code uses nothing.
    await a.c.joinCircle({ circleId: circle.id, inviteCode: code });
    await b.c.joinCircle({ circleId: circle.id, inviteCode: code });
    const full = await snapshot(circle.id);
    const usedUp = await connectErrorOf(c.c.joinCircle({ circleId: circle.id, inviteCode: code }));
    expect(usedUp).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "this invite code has been used up",
    });
    expect(await snapshot(circle.id)).toEqual(full);
    expect((await c.c.listMyCircles({})).circles).toEqual([]);

    // Any member may invite; the code expires.
    const { invite: short } = await a.c.createInvite({
      circleId: circle.id,
      expiresInSeconds: 60n,
    });
    circles.clock.advance(61_000);
    const expired = await snapshot(circle.id);
    expect(
      await connectErrorOf(c.c.joinCircle({ circleId: circle.id, inviteCode: short?.code })),
    ).toMatchObject({ code: Code.FailedPrecondition, rawMessage: "this invite code has expired" });
    expect(await snapshot(circle.id)).toEqual(expired);
    circles.clock.reset();

    // Revoked: by its creator, or by owners and moderators; not by another member.
    const { invite: aInvite } = await a.c.createInvite({ circleId: circle.id });
    const aCode = aInvite?.code ?? "";
    expect(aInvite?.maxUses).toBeUndefined();
    expect(aInvite?.expiresAt).toBeUndefined();
    expect(
      await connectErrorOf(b.c.revokeInvite({ circleId: circle.id, code: aCode })),
    ).toMatchObject({ code: Code.PermissionDenied });
    await a.c.revokeInvite({ circleId: circle.id, code: aCode });
    await owner.c.revokeInvite({ circleId: circle.id, code: aCode }); // again: no error
    const revoked = await snapshot(circle.id);
    expect(
      await connectErrorOf(c.c.joinCircle({ circleId: circle.id, inviteCode: aCode })),
    ).toMatchObject({ code: Code.FailedPrecondition, rawMessage: "this invite code was revoked" });
    expect(await snapshot(circle.id)).toEqual(revoked);
    expect(
      await connectErrorOf(owner.c.revokeInvite({ circleId: circle.id, code: "no-such-code" })),
    ).toMatchObject({ code: Code.NotFound, rawMessage: "no such invite code in this circle" });

    // A removed member's invites stop working with them.
    const { invite: bInvite } = await b.c.createInvite({ circleId: circle.id });
    await owner.c.removeMember({ circleId: circle.id, userId: b.id });
    expect(
      await connectErrorOf(d.c.joinCircle({ circleId: circle.id, inviteCode: bInvite?.code })),
    ).toMatchObject({ code: Code.FailedPrecondition, rawMessage: "this invite code was revoked" });

    // A code of another circle does not open this one, even for staff who can see it.
    const other = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    const { invite: otherInvite } = await owner.c.createInvite({ circleId: other.id });
    expect(
      await connectErrorOf(e.c.joinCircle({ circleId: circle.id, inviteCode: otherInvite?.code })),
    ).toMatchObject({ code: Code.NotFound });
    const staff = await circles.user(["member", "moderator"]);
    expect(
      await connectErrorOf(
        staff.c.joinCircle({ circleId: circle.id, inviteCode: otherInvite?.code }),
      ),
    ).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "this invite code is not for this circle",
    });
    expect(await connectErrorOf(staff.c.joinCircle({ circleId: circle.id }))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "this circle is invite-only: join it with an invite code from a member",
    });

    expect(await memberIds(owner, circle.id)).toEqual([owner.id, a.id].sort());
    expect((await owner.c.getCircle({ circleId: circle.id })).circle?.memberCount).toBe(2);
  });

  it("validates invite requests", async () => {
    const owner = await circles.user();
    const circle = await newCircle(owner);
    for (const req of [
      { circleId: circle.id, maxUses: 0 },
      { circleId: circle.id, maxUses: 1001 },
      { circleId: circle.id, expiresInSeconds: 59n },
      { circleId: circle.id, expiresInSeconds: 2_592_001n },
      { circleId: "nope" },
    ]) {
      expect((await connectErrorOf(owner.c.createInvite(req))).code).toBe(Code.InvalidArgument);
    }
    for (const inviteCode of ["abc", "has spaces in it", "x".repeat(65), "emoji🙂code"]) {
      const err = await connectErrorOf(owner.c.joinCircle({ circleId: circle.id, inviteCode }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain("invite_code");
    }
    expect(
      (await connectErrorOf(owner.c.revokeInvite({ circleId: circle.id, code: "" }))).code,
    ).toBe(Code.InvalidArgument);
  });

  it("counts a usable code on an open circle and ignores an unusable one", async () => {
    const owner = await circles.user();
    const circle = await newCircle(owner);
    const { invite } = await owner.c.createInvite({ circleId: circle.id, maxUses: 1 });
    const first = await circles.user();
    const second = await circles.user();
    await first.c.joinCircle({ circleId: circle.id, inviteCode: invite?.code });
    await second.c.joinCircle({ circleId: circle.id, inviteCode: invite?.code });
    await (await circles.user()).c.joinCircle({ circleId: circle.id, inviteCode: "whatever-code" });
    const row = await circles.app.deps.db.kysely
      .selectFrom("circle_invite")
      .select("uses")
      .where("circle_id", "=", circle.id)
      .executeTakeFirstOrThrow();
    expect(row.uses).toBe(1);
    expect((await owner.c.getCircle({ circleId: circle.id })).circle?.memberCount).toBe(4);
  });
});

describe("roles and the owner rule", () => {
  it("changes roles (owners only) and never leaves a circle without an owner", async () => {
    const founder = await circles.user();
    const alex = await circles.user();
    const sam = await circles.user();
    const circle = await newCircle(founder);
    await alex.c.joinCircle({ circleId: circle.id });
    await sam.c.joinCircle({ circleId: circle.id });

    const { member } = await founder.c.setMemberRole({
      circleId: circle.id,
      userId: alex.id,
      role: CircleRole.MODERATOR,
    });
    expect(member).toMatchObject({ userId: alex.id, role: CircleRole.MODERATOR });
    // The same role again changes nothing.
    await founder.c.setMemberRole({
      circleId: circle.id,
      userId: alex.id,
      role: CircleRole.MODERATOR,
    });
    // Moderators do not change roles.
    expect(
      await connectErrorOf(
        alex.c.setMemberRole({ circleId: circle.id, userId: sam.id, role: CircleRole.MODERATOR }),
      ),
    ).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "only the circle's owners can change members' roles",
    });

    // The last owner can neither leave nor step down.
    const lastOwner = {
      code: Code.FailedPrecondition,
      rawMessage: "you are the circle's last owner: make another member an owner before you leave",
    };
    expect(await connectErrorOf(founder.c.leaveCircle({ circleId: circle.id }))).toMatchObject(
      lastOwner,
    );
    expect(
      await connectErrorOf(
        founder.c.setMemberRole({
          circleId: circle.id,
          userId: founder.id,
          role: CircleRole.MEMBER,
        }),
      ),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "a circle needs an owner: make another member an owner first",
    });
    // Nor can platform staff remove or ban them.
    const admin = await circles.user(["member", "admin"]);
    expect(
      await connectErrorOf(admin.c.removeMember({ circleId: circle.id, userId: founder.id })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "the circle's last owner cannot be removed",
    });
    expect(
      await connectErrorOf(admin.c.banMember({ circleId: circle.id, userId: founder.id })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "the circle's last owner cannot be banned",
    });

    // Hand over, then leave.
    await founder.c.setMemberRole({ circleId: circle.id, userId: alex.id, role: CircleRole.OWNER });
    await founder.c.leaveCircle({ circleId: circle.id });
    expect(
      (await alex.c.listMembers({ circleId: circle.id })).members.map((m) => [m.userId, m.role]),
    ).toEqual([
      [alex.id, CircleRole.OWNER],
      [sam.id, CircleRole.MEMBER],
    ]);

    // Co-owners may remove each other while one remains; staff may hand ownership over.
    await admin.c.setMemberRole({ circleId: circle.id, userId: sam.id, role: CircleRole.OWNER });
    await sam.c.removeMember({ circleId: circle.id, userId: alex.id, reason: "stepped away" });
    expect(await memberIds(sam, circle.id)).toEqual([sam.id]);

    // Roles are for members; the role must be a real one.
    expect(
      await connectErrorOf(
        sam.c.setMemberRole({ circleId: circle.id, userId: alex.id, role: CircleRole.MEMBER }),
      ),
    ).toMatchObject({
      code: Code.NotFound,
      rawMessage: "that user is not a member of this circle",
    });
    expect(
      (
        await connectErrorOf(
          sam.c.setMemberRole({
            circleId: circle.id,
            userId: sam.id,
            role: CircleRole.UNSPECIFIED,
          }),
        )
      ).code,
    ).toBe(Code.InvalidArgument);

    const events = await circles.eventsOf(circle.id);
    expectInOrder(events, circle.id);
    expect(events.map((e) => e.subject.replace("circles.", ""))).toEqual([
      "circle.created.v1",
      "member.joined.v1",
      "member.joined.v1",
      "member.joined.v1",
      "member.role_changed.v1",
      "member.role_changed.v1",
      "member.left.v1",
      "member.role_changed.v1",
      "member.removed.v1",
    ]);
    expect(events[4]?.message).toMatchObject({
      userId: alex.id,
      role: CircleRole.MODERATOR,
      changedBy: founder.id,
    });
    expect(events[7]?.message).toMatchObject({ userId: sam.id, changedBy: admin.id });
    expect(events[8]?.message).toMatchObject({
      userId: alex.id,
      removedBy: sam.id,
      bannedPermanently: false,
    });
    expect(events[8]?.message.bannedUntil).toBeUndefined();
  });
});

describe("removal and bans", () => {
  it("removes members (moderators: regular members only) and bans with expiry", async () => {
    const owner = await circles.user();
    const mod = await circles.user();
    const otherMod = await circles.user();
    const [x, y, z, w] = await Promise.all([1, 2, 3, 4].map(() => circles.user()));
    if (x === undefined || y === undefined || z === undefined || w === undefined) throw new Error();
    const circle = await newCircle(owner);
    for (const u of [mod, otherMod, x, y, z]) await u.c.joinCircle({ circleId: circle.id });
    for (const u of [mod, otherMod]) {
      await owner.c.setMemberRole({
        circleId: circle.id,
        userId: u.id,
        role: CircleRole.MODERATOR,
      });
    }

    // Removal: the member may come back.
    await mod.c.removeMember({ circleId: circle.id, userId: x.id, reason: " rude " });
    await x.c.joinCircle({ circleId: circle.id });
    const audit = await circles.app.deps.db.kysely
      .selectFrom("circle_audit")
      .selectAll()
      .where("circle_id", "=", circle.id)
      .where("kind", "=", "member_removed")
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ actor_id: mod.id, user_id: x.id, details: { reason: "rude" } });

    const outranks = /^circle moderators can (remove|ban) regular members only; ask an owner$/;
    for (const target of [otherMod, owner]) {
      for (const call of [
        () => mod.c.removeMember({ circleId: circle.id, userId: target.id }),
        () => mod.c.banMember({ circleId: circle.id, userId: target.id }),
      ]) {
        const err = await connectErrorOf(call());
        expect(err.code).toBe(Code.PermissionDenied);
        expect(err.rawMessage).toMatch(outranks);
      }
    }
    expect(
      await connectErrorOf(mod.c.removeMember({ circleId: circle.id, userId: mod.id })),
    ).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "user_id is you: use LeaveCircle to leave",
    });
    expect(
      (await connectErrorOf(mod.c.banMember({ circleId: circle.id, userId: mod.id }))).code,
    ).toBe(Code.InvalidArgument);
    expect(
      await connectErrorOf(mod.c.removeMember({ circleId: circle.id, userId: w.id })),
    ).toMatchObject({ code: Code.NotFound });
    expect(
      (
        await connectErrorOf(
          mod.c.removeMember({ circleId: circle.id, userId: x.id, reason: "x".repeat(501) }),
        )
      ).code,
    ).toBe(Code.InvalidArgument);

    // A ban for an hour removes the member, who cannot come back until it ends.
    const { ban } = await mod.c.banMember({
      circleId: circle.id,
      userId: y.id,
      expiresInSeconds: 3600n,
      reason: "threats",
    });
    expect(ban).toMatchObject({
      circleId: circle.id,
      userId: y.id,
      bannedBy: mod.id,
      reason: "threats",
    });
    const until = dateOf(ban?.expiresAt);
    const yRefused = await connectErrorOf(y.c.joinCircle({ circleId: circle.id }));
    expect(yRefused).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: `you are banned from this circle until ${until.toISOString()}`,
    });

    // A permanent ban.
    const { ban: forever } = await owner.c.banMember({ circleId: circle.id, userId: z.id });
    expect(forever?.expiresAt).toBeUndefined();
    expect(await connectErrorOf(z.c.joinCircle({ circleId: circle.id }))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "you are banned from this circle",
    });

    // A ban of someone who is not a member: no membership change, no event.
    const quiet = await snapshot(circle.id);
    await owner.c.banMember({ circleId: circle.id, userId: w.id, expiresInSeconds: 60n });
    expect((await snapshot(circle.id)).circle).toEqual(quiet.circle);
    expect(await connectErrorOf(w.c.joinCircle({ circleId: circle.id }))).toMatchObject({
      code: Code.PermissionDenied,
    });

    const listed = await owner.c.listBans({ circleId: circle.id });
    expect(listed.bans.map((b) => b.userId)).toEqual([w.id, z.id, y.id]);
    expect(listed.bans[2]?.reason).toBe("threats");
    const paged1 = await mod.c.listBans({ circleId: circle.id, pageSize: 2 });
    const paged2 = await mod.c.listBans({
      circleId: circle.id,
      pageSize: 2,
      pageToken: paged1.nextPageToken,
    });
    expect([...paged1.bans, ...paged2.bans]).toEqual(listed.bans);
    expect(paged2.nextPageToken).toBe("");

    // Two minutes later w's ban is over: gone from the list, and w may join.
    circles.clock.advance(2 * minute);
    expect((await owner.c.listBans({ circleId: circle.id })).bans.map((b) => b.userId)).toEqual([
      z.id,
      y.id,
    ]);
    await w.c.joinCircle({ circleId: circle.id });
    expect((await connectErrorOf(y.c.joinCircle({ circleId: circle.id }))).code).toBe(
      Code.PermissionDenied,
    );
    // Past the hour, y may too.
    circles.clock.advance(60 * minute);
    await y.c.joinCircle({ circleId: circle.id });
    circles.clock.reset();

    // Lifting a ban; lifting again is no error. A new ban replaces the old one.
    await mod.c.unbanMember({ circleId: circle.id, userId: z.id });
    await mod.c.unbanMember({ circleId: circle.id, userId: z.id });
    await z.c.joinCircle({ circleId: circle.id });
    await owner.c.banMember({
      circleId: circle.id,
      userId: x.id,
      expiresInSeconds: 600n,
      reason: "first",
    });
    await owner.c.banMember({ circleId: circle.id, userId: x.id, reason: "for good" });
    const bans = (await owner.c.listBans({ circleId: circle.id })).bans;
    const xBans = bans.filter((b) => b.userId === x.id);
    expect(xBans.map((b) => [b.reason, b.expiresAt])).toEqual([["for good", undefined]]);
    for (const req of [
      { circleId: circle.id, userId: w.id, expiresInSeconds: 59n },
      { circleId: circle.id, userId: w.id, expiresInSeconds: 31_536_001n },
      { circleId: circle.id, userId: "w" },
    ]) {
      expect((await connectErrorOf(owner.c.banMember(req))).code).toBe(Code.InvalidArgument);
    }

    const events = await circles.eventsOf(circle.id);
    expectInOrder(events, circle.id);
    const removals = events.filter((e) => e.subject === "circles.member.removed.v1");
    expect(removals.map((e) => e.message.userId)).toEqual([x.id, y.id, z.id, x.id]);
    expect(removals[0]?.message).toMatchObject({ removedBy: mod.id, bannedPermanently: false });
    expect(removals[0]?.message.bannedUntil).toBeUndefined();
    expect(removals[1]?.message).toMatchObject({ removedBy: mod.id, bannedPermanently: false });
    expect(removals[1]?.message.bannedUntil).toEqual(ban?.expiresAt);
    expect(removals[2]?.message).toMatchObject({ removedBy: owner.id, bannedPermanently: true });
    expect(removals[2]?.message.bannedUntil).toBeUndefined();
    const { circle: final } = await owner.c.getCircle({ circleId: circle.id });
    expect(final?.version).toBe(BigInt(events.length));
    expect(final?.memberCount).toBe((await memberIds(owner, circle.id)).length);
  });

  it("refuses a ban on someone the caller may not act on before changing anything", async () => {
    const owner = await circles.user();
    const mod = await circles.user();
    const circle = await newCircle(owner);
    await mod.c.joinCircle({ circleId: circle.id });
    await owner.c.setMemberRole({
      circleId: circle.id,
      userId: mod.id,
      role: CircleRole.MODERATOR,
    });
    const before = await snapshot(circle.id);
    await connectErrorOf(mod.c.banMember({ circleId: circle.id, userId: owner.id }));
    expect(await snapshot(circle.id)).toEqual(before);
    expect((await owner.c.listBans({ circleId: circle.id })).bans).toEqual([]);
  });
});
