import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  identityEvents,
  identityStream,
  moderationEvents,
  moderationStream,
} from "@kindred/event-catalog";
import { CircleRole, Visibility } from "@kindred/proto/circles/v1";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CirclesUnderTest,
  expectInOrder,
  newCircle,
  type StoredEvent,
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

const db = () => circles.app.deps.db.kysely;

function deletedMessage(userId: string) {
  return { userId, deletedAt: timestampFromDate(new Date()) };
}

function restrictionMessage(userId: string, kind: AccountRestrictionKind, until?: Date) {
  return {
    userId,
    kind,
    caseId: randomUUID(),
    decidedAt: timestampFromDate(new Date()),
    ...(until === undefined ? {} : { until: timestampFromDate(until) }),
  };
}

/** Identity deletes `user`'s account; resolves once circles applied it. */
function deleteAccount(user: TestUser) {
  return circles.deliver(
    identityStream,
    identityEvents.userDeleted,
    deletedMessage(user.id),
    user.id,
  );
}

/** Moderation decides on `user`'s account; resolves once circles applied it. */
function restrict(user: TestUser, kind: AccountRestrictionKind, until?: Date) {
  return circles.deliver(
    moderationStream,
    moderationEvents.accountRestricted,
    restrictionMessage(user.id, kind, until),
    user.id,
  );
}

/** A new invite code of `circleId`, created by `user`. */
async function inviteCode(user: TestUser, circleId: string): Promise<string> {
  const { invite } = await user.c.createInvite({ circleId });
  if (invite === undefined) throw new Error("no invite in the answer");
  return invite.code;
}

async function join(circleId: string, ...users: TestUser[]) {
  for (const u of users) await u.c.joinCircle({ circleId });
}

async function promote(owner: TestUser, circleId: string, user: TestUser, role: CircleRole) {
  await owner.c.setMemberRole({ circleId, userId: user.id, role });
}

/** Each member's role, by user id. */
async function rolesIn(circleId: string): Promise<Record<string, string>> {
  const rows = await db()
    .selectFrom("circle_member")
    .select(["user_id", "role"])
    .where("circle_id", "=", circleId)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.user_id, r.role]));
}

/** Everything an event may change: circles' rows, memberships, invites, audit and events. */
async function state(circleIds: string[]) {
  const rows = await db()
    .selectFrom("circle")
    .select(["id", "version", "member_count", "archived_at"])
    .where("id", "in", circleIds)
    .orderBy("id")
    .execute();
  const roles = await Promise.all(circleIds.map(rolesIn));
  const invites = await db()
    .selectFrom("circle_invite")
    .select(["id", "revoked_at"])
    .where("circle_id", "in", circleIds)
    .orderBy("id")
    .execute();
  const audit = await db()
    .selectFrom("circle_audit")
    .select("id")
    .where("circle_id", "in", circleIds)
    .execute();
  const events = (await circles.events()).filter((e) => circleIds.includes(e.message.circleId));
  return { rows, roles, invites, audit: audit.length, events: events.length };
}

function last(events: StoredEvent[], n = 1): StoredEvent[] {
  return events.slice(-n);
}

describe("account deleted", () => {
  it("removes the account from every circle, one MemberRemoved per circle in its version chain, and revokes its invites", async () => {
    const owner = await circles.user();
    const coOwner = await circles.user();
    const gone = await circles.user();
    const plain = await newCircle(owner);
    const moderated = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    const shared = await newCircle(gone);
    await join(plain.id, gone);
    await gone.c.joinCircle({
      circleId: moderated.id,
      inviteCode: await inviteCode(owner, moderated.id),
    });
    await promote(owner, moderated.id, gone, CircleRole.MODERATOR);
    await join(shared.id, coOwner);
    await promote(gone, shared.id, coOwner, CircleRole.OWNER);
    const code = await inviteCode(gone, moderated.id);
    const ids = [plain.id, moderated.id, shared.id];
    // Read (and cached) before: the deletion must make the next read fresh.
    expect((await gone.c.listMyCircles({})).circles).toHaveLength(3);
    const before = Object.fromEntries(
      await Promise.all(ids.map(async (id) => [id, (await circles.eventsOf(id)).length] as const)),
    );

    const deleted = await deleteAccount(gone);

    for (const id of ids) {
      const events = await circles.eventsOf(id);
      expectInOrder(events, id);
      // Exactly one new event: the removal, at the next version. A co-owner remains in
      // `shared`, so no hand-over there.
      expect(events.length).toBe((before[id] ?? 0) + 1);
      const [removed] = last(events);
      expect(removed?.subject).toBe("circles.member.removed.v1");
      expect(removed?.message).toMatchObject({
        userId: gone.id,
        removedBy: "",
        bannedPermanently: false,
        circleVersion: BigInt(events.length),
      });
      expect(removed?.message.bannedUntil).toBeUndefined();
      expect(removed?.header("Kindred-Actor-Id")).toBe("system:account-deletion");
      expect(removed?.header("Kindred-Correlation-Id")).toBe(deleted.correlationId);
      expect((await rolesIn(id))[gone.id]).toBeUndefined();
    }
    expect((await rolesIn(shared.id))[coOwner.id]).toBe("owner");
    expect((await owner.c.getCircle({ circleId: plain.id })).circle).toMatchObject({
      memberCount: 1,
      version: 4n,
    });
    // The cached list of their circles was invalidated too.
    expect((await gone.c.listMyCircles({})).circles).toEqual([]);

    // Their invite code lets nobody in any more.
    const newcomer = await circles.user();
    const refused = await connectErrorOf(
      newcomer.c.joinCircle({ circleId: moderated.id, inviteCode: code }),
    );
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/revoked/);

    // Audited as circles' own action, with the correlation id of identity's event.
    const audit = await db()
      .selectFrom("circle_audit")
      .selectAll()
      .where("user_id", "=", gone.id)
      .where("kind", "=", "member_removed")
      .execute();
    expect(audit).toHaveLength(3);
    for (const row of audit) {
      expect(row).toMatchObject({
        actor_id: null,
        request_id: deleted.correlationId,
        details: { by: "system:account-deletion" },
      });
    }
  });

  it("hands a sole owner's circle to the longest-standing moderator, else the longest-standing member", async () => {
    const gone = await circles.user();
    const [early, mod1, mod2, late] = await Promise.all([1, 2, 3, 4].map(() => circles.user()));
    if (early === undefined || mod1 === undefined || mod2 === undefined || late === undefined) {
      throw new Error("users");
    }
    const withMods = await newCircle(gone);
    await join(withMods.id, early, mod1, mod2, late);
    // mod2 was made a moderator first, but mod1 has been in the circle longer.
    await promote(gone, withMods.id, mod2, CircleRole.MODERATOR);
    await promote(gone, withMods.id, mod1, CircleRole.MODERATOR);
    const membersOnly = await newCircle(gone);
    await join(membersOnly.id, early, late);
    const versions = {
      withMods: (await circles.eventsOf(withMods.id)).length,
      membersOnly: (await circles.eventsOf(membersOnly.id)).length,
    };

    await deleteAccount(gone);

    const handedOver = await circles.eventsOf(withMods.id);
    expectInOrder(handedOver, withMods.id);
    expect(handedOver.length).toBe(versions.withMods + 2);
    const [changed, removed] = last(handedOver, 2);
    expect(changed?.subject).toBe("circles.member.role_changed.v1");
    expect(changed?.message).toMatchObject({
      userId: mod1.id,
      role: CircleRole.OWNER,
      changedBy: "",
      circleVersion: BigInt(versions.withMods + 1),
    });
    expect(changed?.header("Kindred-Actor-Id")).toBe("system:account-deletion");
    expect(removed?.subject).toBe("circles.member.removed.v1");
    expect(removed?.message).toMatchObject({
      userId: gone.id,
      circleVersion: BigInt(versions.withMods + 2),
    });
    expect(await rolesIn(withMods.id)).toEqual({
      [early.id]: "member",
      [mod1.id]: "owner",
      [mod2.id]: "moderator",
      [late.id]: "member",
    });
    // The new owner can act as one at once (the cached standing was invalidated).
    await mod1.c.setMemberRole({
      circleId: withMods.id,
      userId: mod2.id,
      role: CircleRole.MEMBER,
    });

    const toMember = await circles.eventsOf(membersOnly.id);
    expectInOrder(toMember, membersOnly.id);
    expect(toMember.length).toBe(versions.membersOnly + 2);
    expect(last(toMember, 2).map((e) => [e.subject, e.message.userId])).toEqual([
      ["circles.member.role_changed.v1", early.id],
      ["circles.member.removed.v1", gone.id],
    ]);
    expect(await rolesIn(membersOnly.id)).toEqual({ [early.id]: "owner", [late.id]: "member" });

    const succession = await db()
      .selectFrom("circle_audit")
      .selectAll()
      .where("circle_id", "=", withMods.id)
      .where("kind", "=", "member_role_changed")
      .where("user_id", "=", mod1.id)
      .where("actor_id", "is", null)
      .executeTakeFirstOrThrow();
    expect(succession.details).toMatchObject({ from: "moderator", to: "owner", succeeds: gone.id });
  });

  it("archives a circle the account leaves empty; an archived one is not archived twice", async () => {
    const gone = await circles.user();
    const alone = await newCircle(gone);
    const archived = await newCircle(gone);
    await gone.c.archiveCircle({ circleId: archived.id });

    await deleteAccount(gone);

    const events = await circles.eventsOf(alone.id);
    expectInOrder(events, alone.id);
    expect(events.map((e) => e.subject)).toEqual([
      "circles.circle.created.v1",
      "circles.member.joined.v1",
      "circles.member.removed.v1",
      "circles.circle.archived.v1",
    ]);
    expect(events[3]?.message).toMatchObject({ archivedBy: "", circleVersion: 4n });
    const row = await db()
      .selectFrom("circle")
      .selectAll()
      .where("id", "=", alone.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ member_count: 0, version: "4", archived_by: null });
    expect(row.archived_at).not.toBeNull();

    const already = await circles.eventsOf(archived.id);
    expectInOrder(already, archived.id);
    expect(already.map((e) => e.subject)).toEqual([
      "circles.circle.created.v1",
      "circles.member.joined.v1",
      "circles.circle.archived.v1",
      "circles.member.removed.v1",
    ]);
  });

  it("passes over accounts banned from the platform when it picks the new owner", async () => {
    const gone = await circles.user();
    const banned = await circles.user();
    const next = await circles.user();
    const circle = await newCircle(gone);
    await join(circle.id, banned, next);
    await restrict(banned, AccountRestrictionKind.BANNED);
    // A plain member keeps their membership through a ban.
    expect((await rolesIn(circle.id))[banned.id]).toBe("member");

    await deleteAccount(gone);

    expect(await rolesIn(circle.id)).toEqual({ [banned.id]: "member", [next.id]: "owner" });
  });

  it("changes nothing when the event is delivered again, or the deletion announced twice", async () => {
    const gone = await circles.user();
    const other = await circles.user();
    const owned = await newCircle(gone);
    const joined = await newCircle(other);
    await join(owned.id, other);
    await join(joined.id, gone);
    await gone.c.createInvite({ circleId: joined.id });
    const message = deletedMessage(gone.id);
    const meta = await circles.deliver(
      identityStream,
      identityEvents.userDeleted,
      message,
      gone.id,
    );
    const after = await state([owned.id, joined.id]);
    expect(after.roles).toEqual([{ [other.id]: "owner" }, { [other.id]: "owner" }]);

    await circles.redeliver("circles-user-deleted", meta, identityEvents.userDeleted, message);
    expect(await state([owned.id, joined.id])).toEqual(after);

    // A second deletion event (another id): they are in no circle, nothing is left to do.
    await deleteAccount(gone);
    expect(await state([owned.id, joined.id])).toEqual(after);
  });
});

describe("account restricted", () => {
  it("removes a banned user from circles they own or moderate, not where they are a plain member", async () => {
    const owner = await circles.user();
    const banned = await circles.user();
    const heir = await circles.user();
    const member = await circles.user();
    const owned = await newCircle(banned);
    await join(owned.id, member, heir);
    await promote(banned, owned.id, heir, CircleRole.MODERATOR);
    const moderated = await newCircle(owner);
    await join(moderated.id, banned);
    await promote(owner, moderated.id, banned, CircleRole.MODERATOR);
    const plain = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    await banned.c.joinCircle({
      circleId: plain.id,
      inviteCode: await inviteCode(owner, plain.id),
    });
    const code = await inviteCode(banned, plain.id);
    const before = {
      owned: (await circles.eventsOf(owned.id)).length,
      moderated: (await circles.eventsOf(moderated.id)).length,
      plain: await state([plain.id]),
    };

    const decision = restrictionMessage(banned.id, AccountRestrictionKind.BANNED);
    const meta = await circles.deliver(
      moderationStream,
      moderationEvents.accountRestricted,
      decision,
      banned.id,
    );

    const ownedEvents = await circles.eventsOf(owned.id);
    expectInOrder(ownedEvents, owned.id);
    expect(ownedEvents.length).toBe(before.owned + 2);
    expect(last(ownedEvents, 2).map((e) => [e.subject, e.message.userId])).toEqual([
      ["circles.member.role_changed.v1", heir.id],
      ["circles.member.removed.v1", banned.id],
    ]);
    expect(last(ownedEvents)[0]?.header("Kindred-Actor-Id")).toBe("system:account-ban");
    expect(await rolesIn(owned.id)).toEqual({ [heir.id]: "owner", [member.id]: "member" });

    const moderatedEvents = await circles.eventsOf(moderated.id);
    expectInOrder(moderatedEvents, moderated.id);
    expect(moderatedEvents.length).toBe(before.moderated + 1);
    expect(last(moderatedEvents)[0]?.message).toMatchObject({
      userId: banned.id,
      removedBy: "",
      bannedPermanently: false,
    });
    expect((await rolesIn(moderated.id))[banned.id]).toBeUndefined();

    // The plain membership stays, with no new event; the invites they created are revoked.
    const plainAfter = await state([plain.id]);
    expect(plainAfter.roles).toEqual(before.plain.roles);
    expect(plainAfter.rows).toEqual(before.plain.rows);
    expect(plainAfter.events).toBe(before.plain.events);
    const refused = await connectErrorOf(
      (await circles.user()).c.joinCircle({ circleId: plain.id, inviteCode: code }),
    );
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/revoked/);

    const audit = await db()
      .selectFrom("circle_audit")
      .selectAll()
      .where("circle_id", "=", moderated.id)
      .where("kind", "=", "member_removed")
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({
      actor_id: null,
      user_id: banned.id,
      details: { by: "system:account-ban", case: decision.caseId, role: "moderator" },
    });

    // Redelivered, or announced again: nothing left to take.
    const settled = await state([owned.id, moderated.id, plain.id]);
    await circles.redeliver(
      "circles-account-restricted",
      meta,
      moderationEvents.accountRestricted,
      decision,
    );
    expect(await state([owned.id, moderated.id, plain.id])).toEqual(settled);
    await restrict(banned, AccountRestrictionKind.BANNED);
    expect(await state([owned.id, moderated.id, plain.id])).toEqual(settled);

    // Lifting the ban gives back no role: it is recorded, nothing else.
    await restrict(banned, AccountRestrictionKind.LIFTED);
    expect(await state([owned.id, moderated.id, plain.id])).toEqual(settled);
    const recorded = await db()
      .selectFrom("account_ban")
      .selectAll()
      .where("user_id", "=", banned.id)
      .executeTakeFirstOrThrow();
    expect(recorded.banned).toBe(false);
  });

  it("ignores suspensions and SOS restrictions", async () => {
    const owner = await circles.user();
    const moderator = await circles.user();
    const circle = await newCircle(owner);
    await join(circle.id, moderator);
    await promote(owner, circle.id, moderator, CircleRole.MODERATOR);
    await owner.c.createInvite({ circleId: circle.id });
    const before = await state([circle.id]);

    const day = 86_400_000;
    await restrict(owner, AccountRestrictionKind.SUSPENDED, new Date(Date.now() + day));
    await restrict(moderator, AccountRestrictionKind.SUSPENDED, new Date(Date.now() + day));
    await restrict(owner, AccountRestrictionKind.SOS_RESTRICTED);

    expect(await state([circle.id])).toEqual(before);
    const recorded = await db()
      .selectFrom("account_ban")
      .select("user_id")
      .where("user_id", "in", [owner.id, moderator.id])
      .execute();
    expect(recorded).toEqual([]);
  });

  it("applies only the latest decision: a ban decided before a recorded lift changes nothing", async () => {
    const owner = await circles.user();
    const moderator = await circles.user();
    const circle = await newCircle(owner);
    await join(circle.id, moderator);
    await promote(owner, circle.id, moderator, CircleRole.MODERATOR);
    await restrict(moderator, AccountRestrictionKind.LIFTED);
    const before = await state([circle.id]);

    await circles.deliver(
      moderationStream,
      moderationEvents.accountRestricted,
      {
        ...restrictionMessage(moderator.id, AccountRestrictionKind.BANNED),
        decidedAt: timestampFromDate(new Date(Date.now() - 60_000)),
      },
      moderator.id,
    );

    expect(await state([circle.id])).toEqual(before);
  });
});
