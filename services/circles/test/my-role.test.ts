import { CircleRole, Visibility } from "@kindred/proto/circles/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CirclesUnderTest, newCircle, startCircles, type TestUser } from "./helpers.ts";

let circles: CirclesUnderTest;

beforeAll(async () => {
  circles = await startCircles();
});
afterAll(async () => {
  await circles?.[Symbol.asyncDispose]();
});

/** GetCircle's `my_role` for `user`; `undefined` when unset. */
const roleOf = async (user: TestUser, circleId: string) =>
  (await user.c.getCircle({ circleId })).myRole;

describe("GetCircle's my_role", () => {
  it("is the caller's current role, and unset for readers who are not members", async () => {
    const owner = await circles.user();
    const member = await circles.user();
    const passerBy = await circles.user();
    const staff = await circles.user(["member", "moderator"]);
    const { id } = await newCircle(owner, { visibility: Visibility.OPEN });

    expect(await roleOf(owner, id)).toBe(CircleRole.OWNER);
    // An open circle is visible to anyone signed in, and platform staff see every circle:
    // neither is a member.
    expect(await roleOf(passerBy, id)).toBeUndefined();
    expect(await roleOf(staff, id)).toBeUndefined();

    await member.c.joinCircle({ circleId: id });
    expect(await roleOf(member, id)).toBe(CircleRole.MEMBER);
    await owner.c.setMemberRole({ circleId: id, userId: member.id, role: CircleRole.MODERATOR });
    // The cached standing is invalidated by the change: the next read has the new role.
    expect(await roleOf(member, id)).toBe(CircleRole.MODERATOR);
    await member.c.leaveCircle({ circleId: id });
    expect(await roleOf(member, id)).toBeUndefined();

    await member.c.joinCircle({ circleId: id });
    expect(await roleOf(member, id)).toBe(CircleRole.MEMBER);
    await owner.c.removeMember({ circleId: id, userId: member.id, reason: "" });
    expect(await roleOf(member, id)).toBeUndefined();
  });

  it("is set for members of an invite-only circle, which nobody else can see", async () => {
    const owner = await circles.user();
    const { id } = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    const { circle, myRole } = await owner.c.getCircle({ circleId: id });
    expect(circle?.id).toBe(id);
    expect(myRole).toBe(CircleRole.OWNER);
  });
});
