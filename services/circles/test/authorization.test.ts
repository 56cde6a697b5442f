import { Code, ConnectError } from "@connectrpc/connect";
import { CircleRole, Visibility } from "@kindred/proto/circles/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CirclesUnderTest, newCircle, startCircles, type TestUser } from "./helpers.ts";

let circles: CirclesUnderTest;
let platformModerator: TestUser;
let admin: TestUser;

beforeAll(async () => {
  circles = await startCircles();
  platformModerator = await circles.user(["member", "moderator"]);
  admin = await circles.user(["member", "admin"]);
});
afterAll(async () => {
  await circles?.[Symbol.asyncDispose]();
});

const actors = [
  "owner",
  "moderator",
  "member",
  "nonMember",
  "banned",
  "platformModerator",
  "admin",
] as const;
type Actor = (typeof actors)[number];

/**
 * A circle with one user of each kind: its owner, a circle moderator, a member, a stranger, a
 * banned former member, plus `target` (a member to act on) and an invite of the owner's.
 */
async function cast(visibility = Visibility.OPEN) {
  const owner = await circles.user();
  const circle = await newCircle(owner, { visibility });
  const { invite } = await owner.c.createInvite({ circleId: circle.id });
  const code = invite?.code ?? "";
  const join = async () => {
    const u = await circles.user();
    await u.c.joinCircle({ circleId: circle.id, inviteCode: code });
    return u;
  };
  const moderator = await join();
  await owner.c.setMemberRole({
    circleId: circle.id,
    userId: moderator.id,
    role: CircleRole.MODERATOR,
  });
  const member = await join();
  const banned = await join();
  await owner.c.banMember({ circleId: circle.id, userId: banned.id, reason: "spam" });
  const target = await join();
  const users: Record<Actor, TestUser> = {
    owner,
    moderator,
    member,
    nonMember: await circles.user(),
    banned,
    platformModerator,
    admin,
  };
  return { circleId: circle.id, code, users, target, banned };
}

type Cast = Awaited<ReturnType<typeof cast>>;
type Outcome = "ok" | Code;

const { NotFound: NF, PermissionDenied: PD, FailedPrecondition: FP } = Code;

/** What each kind of caller gets from each method, on an open circle. */
const matrix: {
  method: string;
  call: (c: Cast, as: TestUser) => Promise<unknown>;
  expect: Record<Actor, Outcome>;
}[] = [
  {
    method: "GetCircle",
    call: (c, as) => as.c.getCircle({ circleId: c.circleId }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: "ok",
      nonMember: "ok",
      banned: "ok",
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "UpdateCircle",
    call: async (c, as) => {
      const { circle } = await c.users.owner.c.getCircle({ circleId: c.circleId });
      return as.c.updateCircle({
        circleId: c.circleId,
        description: "changed",
        expectedVersion: circle?.version ?? 0n,
      });
    },
    expect: {
      owner: "ok",
      moderator: PD,
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "ArchiveCircle",
    call: (c, as) => as.c.archiveCircle({ circleId: c.circleId }),
    expect: {
      owner: "ok",
      moderator: PD,
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "JoinCircle",
    call: (c, as) => as.c.joinCircle({ circleId: c.circleId }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: "ok",
      nonMember: "ok",
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "LeaveCircle",
    call: (c, as) => as.c.leaveCircle({ circleId: c.circleId }),
    expect: {
      owner: FP, // the last owner
      moderator: "ok",
      member: "ok",
      nonMember: "ok",
      banned: "ok",
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "CreateInvite",
    call: (c, as) => as.c.createInvite({ circleId: c.circleId, maxUses: 1 }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: "ok",
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "RevokeInvite",
    call: (c, as) => as.c.revokeInvite({ circleId: c.circleId, code: c.code }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "ListMembers",
    call: (c, as) => as.c.listMembers({ circleId: c.circleId }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: "ok",
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "SetMemberRole",
    call: (c, as) =>
      as.c.setMemberRole({
        circleId: c.circleId,
        userId: c.target.id,
        role: CircleRole.MODERATOR,
      }),
    expect: {
      owner: "ok",
      moderator: PD,
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "RemoveMember",
    call: (c, as) => as.c.removeMember({ circleId: c.circleId, userId: c.target.id }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "BanMember",
    call: (c, as) =>
      as.c.banMember({ circleId: c.circleId, userId: c.target.id, expiresInSeconds: 3600n }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "UnbanMember",
    call: (c, as) => as.c.unbanMember({ circleId: c.circleId, userId: c.banned.id }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
  {
    method: "ListBans",
    call: (c, as) => as.c.listBans({ circleId: c.circleId }),
    expect: {
      owner: "ok",
      moderator: "ok",
      member: PD,
      nonMember: PD,
      banned: PD,
      platformModerator: "ok",
      admin: "ok",
    },
  },
];

async function outcomeOf(call: Promise<unknown>): Promise<Outcome> {
  try {
    await call;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

const named = (row: Record<Actor, Outcome>) =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === "ok" ? v : Code[v]])) as Record<
    Actor,
    string
  >;

describe("the authorization matrix", () => {
  for (const row of matrix) {
    it(`${row.method}: owner, circle moderator, member, non-member, banned, platform moderator, admin`, async () => {
      const got = {} as Record<Actor, Outcome>;
      for (const actor of actors) {
        const c = await cast();
        got[actor] = await outcomeOf(row.call(c, c.users[actor]));
      }
      expect(named(got)).toEqual(named(row.expect));
    });
  }

  it("hides invite-only circles from non-members and banned users (not_found), not from staff", async () => {
    const c = await cast(Visibility.INVITE_ONLY);
    const reads = (as: TestUser) => [
      () => as.c.getCircle({ circleId: c.circleId }),
      () => as.c.listMembers({ circleId: c.circleId }),
      () => as.c.listBans({ circleId: c.circleId }),
      () => as.c.createInvite({ circleId: c.circleId }),
    ];
    for (const actor of ["nonMember", "banned"] as const) {
      for (const call of reads(c.users[actor])) expect(await outcomeOf(call())).toBe(NF);
      expect(await outcomeOf(c.users[actor].c.joinCircle({ circleId: c.circleId }))).toBe(NF);
    }
    // With a valid code the circle is found, and the ban is what stops the banned user.
    expect(
      await outcomeOf(c.users.banned.c.joinCircle({ circleId: c.circleId, inviteCode: c.code })),
    ).toBe(PD);
    for (const actor of ["platformModerator", "admin"] as const) {
      for (const call of reads(c.users[actor])) expect(await outcomeOf(call())).toBe("ok");
    }
    // Staff need an invite to join like anyone else.
    expect(await outcomeOf(admin.c.joinCircle({ circleId: c.circleId }))).toBe(PD);
  });

  it("records what platform staff did to a circle they do not belong to", async () => {
    const c = await cast();
    await platformModerator.c.removeMember({
      circleId: c.circleId,
      userId: c.target.id,
      reason: "harassment reported",
    });
    const row = await circles.app.deps.db.kysely
      .selectFrom("circle_audit")
      .selectAll()
      .where("circle_id", "=", c.circleId)
      .where("kind", "=", "member_removed")
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      actor_id: platformModerator.id,
      user_id: c.target.id,
      details: { reason: "harassment reported", role: "member", as: "platform_staff" },
    });
  });
});
