import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { circlesEvents, circlesStream } from "@kindred/event-catalog";
import { CircleRole } from "@kindred/proto/circles/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContentHarness, newId } from "./harness.ts";

/** The default staleness window (ADR 11), as production runs it. */
const membershipWaitMs = 2_000;

let h: ContentHarness;
beforeAll(async () => {
  h = await ContentHarness.start({ membershipWaitMs });
});
afterAll(() => h?.[Symbol.asyncDispose]());

const now = () => timestampFromDate(new Date());

async function memberRow(circleId: string, userId: string) {
  return h.db.kysely
    .selectFrom("circle_member")
    .selectAll()
    .where("circle_id", "=", circleId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
}

describe("staleness: a join followed at once by a post", () => {
  it("accepts a post sent right after the MemberJoined event, before content applied it", async () => {
    const owner = newId();
    const joiner = newId();
    const circle = await h.createCircle(owner);
    const asJoiner = await h.as(joiner);
    await h.publish(
      circlesStream,
      circlesEvents.memberJoined,
      {
        circleId: circle.id,
        userId: joiner,
        role: CircleRole.MEMBER,
        joinedAt: now(),
        circleVersion: 2n,
      },
      circle.id,
    );
    const { post } = await h.client.createPost(
      { circleId: circle.id, body: "hi all, just joined" },
      asJoiner,
    );
    expect(post?.authorId).toBe(joiner);
  });

  it("accepts a post in a circle created a moment ago", async () => {
    const owner = newId();
    const circleId = newId();
    await h.publish(
      circlesStream,
      circlesEvents.circleCreated,
      { circleId, name: "new", ownerId: owner, createdAt: now(), circleVersion: 1n },
      circleId,
    );
    const { post } = await h.client.createPost({ circleId, body: "welcome" }, await h.as(owner));
    expect(post?.circleId).toBe(circleId);
  });

  it("waits for a membership that arrives while the call waits", async () => {
    const owner = newId();
    const joiner = newId();
    const circle = await h.createCircle(owner);
    const asJoiner = await h.as(joiner);
    const started = Date.now();
    const call = h.client.createPost({ circleId: circle.id, body: "early" }, asJoiner);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await h.publish(
      circlesStream,
      circlesEvents.memberJoined,
      {
        circleId: circle.id,
        userId: joiner,
        role: CircleRole.MEMBER,
        joinedAt: now(),
        circleVersion: 2n,
      },
      circle.id,
    );
    expect((await call).post?.body).toBe("early");
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it("refuses a non-member once the wait is over, and not before", async () => {
    const owner = newId();
    const circle = await h.createCircle(owner);
    const started = Date.now();
    const err = await connectErrorOf(
      h.client.createPost({ circleId: circle.id, body: "let me in" }, await h.as(newId())),
    );
    expect(err).toMatchObject({ code: Code.PermissionDenied });
    expect(Date.now() - started).toBeGreaterThanOrEqual(membershipWaitMs - 50);
  });
});

describe("projections apply circles' and identity's events in order, whatever order they arrive in", () => {
  it("ignores a member event older than what the member's row holds", async () => {
    const owner = newId();
    const user = newId();
    const circle = await h.createCircle(owner);
    const member = (circleVersion: bigint) => ({
      circleId: circle.id,
      userId: user,
      role: CircleRole.MEMBER,
      joinedAt: now(),
      circleVersion,
    });

    // The leave (v3) overtakes the join (v2): the late join must not bring the user back.
    await h.publish(
      circlesStream,
      circlesEvents.memberLeft,
      { circleId: circle.id, userId: user, leftAt: now(), circleVersion: 3n },
      circle.id,
    );
    await circle.awaitMember(user, 3n);
    const lateJoin = await h.publish(
      circlesStream,
      circlesEvents.memberJoined,
      member(2n),
      circle.id,
    );
    await h.awaitHandled(lateJoin.id);
    expect(await memberRow(circle.id, user)).toMatchObject({ circle_version: "3" });
    expect((await memberRow(circle.id, user))?.left_at).not.toBeNull();

    // A role change (v5) before its join (v4): a member with the new role; the join is ignored.
    await h.publish(
      circlesStream,
      circlesEvents.memberRoleChanged,
      {
        circleId: circle.id,
        userId: user,
        role: CircleRole.MODERATOR,
        changedBy: owner,
        circleVersion: 5n,
      },
      circle.id,
    );
    await circle.awaitMember(user, 5n);
    const olderJoin = await h.publish(
      circlesStream,
      circlesEvents.memberJoined,
      member(4n),
      circle.id,
    );
    await h.awaitHandled(olderJoin.id);
    expect(await memberRow(circle.id, user)).toMatchObject({
      circle_version: "5",
      role: "moderator",
      left_at: null,
    });

    // Removed (v7); a role change from before (v6) arrives late and changes nothing.
    await h.publish(
      circlesStream,
      circlesEvents.memberRemoved,
      { circleId: circle.id, userId: user, removedBy: owner, removedAt: now(), circleVersion: 7n },
      circle.id,
    );
    await circle.awaitMember(user, 7n);
    const lateRole = await h.publish(
      circlesStream,
      circlesEvents.memberRoleChanged,
      {
        circleId: circle.id,
        userId: user,
        role: CircleRole.OWNER,
        changedBy: owner,
        circleVersion: 6n,
      },
      circle.id,
    );
    await h.awaitHandled(lateRole.id);
    const row = await memberRow(circle.id, user);
    expect(row?.circle_version).toBe("7");
    expect(row?.left_at).not.toBeNull();

    // Rejoining later (v8) works.
    await h.publish(circlesStream, circlesEvents.memberJoined, member(8n), circle.id);
    await circle.awaitMember(user, 8n);
    expect(await memberRow(circle.id, user)).toMatchObject({ role: "member", left_at: null });
  });

  it("keeps a circle archived whatever arrives after, and knows circles from member events alone", async () => {
    const owner = newId();
    const circleId = newId();
    // Only a member event so far: the circle is known (a non-member gets permission_denied).
    await h.publish(
      circlesStream,
      circlesEvents.memberJoined,
      { circleId, userId: owner, role: CircleRole.OWNER, joinedAt: now(), circleVersion: 2n },
      circleId,
    );
    const created = await h.publish(
      circlesStream,
      circlesEvents.circleCreated,
      { circleId, name: "c", ownerId: owner, createdAt: now(), circleVersion: 1n },
      circleId,
    );
    await h.awaitHandled(created.id);
    expect(await memberRow(circleId, owner)).toMatchObject({ role: "owner", circle_version: "2" });

    await h.publish(
      circlesStream,
      circlesEvents.circleArchived,
      { circleId, archivedBy: owner, archivedAt: now(), circleVersion: 9n },
      circleId,
    );
    const lateUpdate = await h.publish(
      circlesStream,
      circlesEvents.circleUpdated,
      { circleId, name: "renamed", updatedBy: owner, circleVersion: 8n },
      circleId,
    );
    await h.awaitHandled(lateUpdate.id);
    const state = await h.db.kysely
      .selectFrom("circle_state")
      .selectAll()
      .where("circle_id", "=", circleId)
      .executeTakeFirstOrThrow();
    expect(state.version).toBe("9");
    expect(state.archived_at).not.toBeNull();
    expect(
      await connectErrorOf(h.client.createPost({ circleId, body: "x" }, await h.as(owner))),
    ).toMatchObject({ code: Code.FailedPrecondition });
  });

  it("lets the later of a block and an unblock win, whatever order they arrive in", async () => {
    const a = newId();
    const b = newId();
    const c = newId();
    const t1 = new Date(Date.now() - 60_000);
    const t2 = new Date(Date.now() - 30_000);
    // The unblock (t2) arrives before the block it lifts (t1): not blocked.
    await h.unblock(a, b, t2);
    await h.block(a, b, t1); // handled, and ignored: the row keeps t2
    const blocked = async (x: string, y: string) =>
      (
        await h.db.kysely
          .selectFrom("user_block")
          .selectAll()
          .where("blocker_id", "=", x)
          .where("blocked_id", "=", y)
          .executeTakeFirstOrThrow()
      ).blocked;
    expect(await blocked(a, b)).toBe(false);
    // In order, the block after the unblock wins; at the same instant, the block wins.
    await h.block(a, c, t1);
    await h.unblock(a, c, t1);
    expect(await blocked(a, c)).toBe(true);
  });
});
