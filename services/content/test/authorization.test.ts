import { Code, ConnectError } from "@connectrpc/connect";
import { contentEvents } from "@kindred/event-catalog";
import { RemovalReason } from "@kindred/proto/content/events/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContentHarness, newId, type TestCircle } from "./harness.ts";

/**
 * The authorization matrix of PostService (src/access.ts): every method, for every kind of
 * caller. Platform roles come from the token's `roles` claim; circle roles and blocks from the
 * events circles and identity publish.
 */

let h: ContentHarness;
let circle: TestCircle;
const users = {
  owner: newId(),
  circleModerator: newId(),
  member: newId(),
  author: newId(),
  responder: newId(),
  /** A member the author blocked. */
  blocked: newId(),
  /** A member who blocked the author. */
  blocking: newId(),
  nonMember: newId(),
  platformModerator: newId(),
  admin: newId(),
};
type Actor = keyof typeof users;
const platformRoles: Partial<Record<Actor, string[]>> = {
  platformModerator: ["member", "moderator"],
  admin: ["member", "admin"],
};

const as = (actor: Actor) => h.as(users[actor], platformRoles[actor] ?? ["member"]);

/** "ok", or the name of the Connect code the call failed with. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return "ok";
  } catch (err) {
    return Code[ConnectError.from(err).code] ?? String(err);
  }
}

/** A fresh post by the author, with one response by the responder. */
async function fixture() {
  const authorAuth = await as("author");
  const post = (await h.client.createPost({ circleId: circle.id, body: "a post" }, authorAuth))
    .post;
  const response = (
    await h.client.respondToPost({ postId: post?.id ?? "", body: "a reply" }, await as("responder"))
  ).response;
  return { postId: post?.id ?? "", responseId: response?.id ?? "" };
}

async function check(
  expected: Record<Actor, string>,
  call: (actor: Actor) => Promise<unknown>,
): Promise<void> {
  const actual: Record<string, string> = {};
  for (const actor of Object.keys(expected) as Actor[]) {
    actual[actor] = await outcome(() => call(actor));
  }
  expect(actual).toEqual(expected);
}

beforeAll(async () => {
  h = await ContentHarness.start({ membershipWaitMs: 100 });
  circle = await h.createCircle(users.owner);
  await circle.join(users.circleModerator, "moderator");
  for (const actor of ["member", "author", "responder", "blocked", "blocking"] as const) {
    await circle.join(users[actor]);
  }
  await h.block(users.author, users.blocked);
  await h.block(users.blocking, users.author);
});
afterAll(() => h?.[Symbol.asyncDispose]());

const everyone = (outcome: string): Record<Actor, string> => ({
  owner: outcome,
  circleModerator: outcome,
  member: outcome,
  author: outcome,
  responder: outcome,
  blocked: outcome,
  blocking: outcome,
  nonMember: outcome,
  platformModerator: outcome,
  admin: outcome,
});

describe("authorization, per method", () => {
  it("CreatePost: members of the circle (platform roles do not make one a member)", async () => {
    await check(
      {
        ...everyone("ok"),
        nonMember: "PermissionDenied",
        platformModerator: "PermissionDenied",
        admin: "PermissionDenied",
      },
      async (actor) => h.client.createPost({ circleId: circle.id, body: "hi" }, await as(actor)),
    );
  });

  it("GetPost: members, except across a block; everyone else learns nothing", async () => {
    const { postId } = await fixture();
    await check(
      {
        ...everyone("ok"),
        blocked: "NotFound",
        blocking: "NotFound",
        nonMember: "NotFound",
        platformModerator: "NotFound",
        admin: "NotFound",
      },
      async (actor) => h.client.getPost({ postId }, await as(actor)),
    );
  });

  it("UpdatePost: the author only", async () => {
    const { postId } = await fixture();
    let version = 1n;
    await check(
      {
        ...everyone("PermissionDenied"),
        author: "ok",
        blocked: "NotFound",
        blocking: "NotFound",
        nonMember: "NotFound",
        platformModerator: "NotFound",
        admin: "NotFound",
      },
      async (actor) => {
        await h.client.updatePost(
          { postId, body: `edited by ${actor}`, expectedVersion: version },
          await as(actor),
        );
        version++;
      },
    );
  });

  it("DeletePost: the author, circle moderators and owners, platform moderators and admins", async () => {
    const expected = {
      ...everyone("ok"),
      member: "PermissionDenied",
      responder: "PermissionDenied",
      blocked: "NotFound",
      blocking: "NotFound",
      nonMember: "NotFound",
    };
    await check(expected, async (actor) => {
      const { postId } = await fixture();
      await h.client.deletePost({ postId }, await as(actor));
    });
    const reasons = (await h.contentEvents())
      .filter((e) => e.subject === contentEvents.postRemoved.subject)
      .map((e) => e.decode(contentEvents.postRemoved))
      .map((m) => [m.removedBy, m.reason]);
    expect(reasons).toEqual([
      [users.owner, RemovalReason.CIRCLE_MODERATOR],
      [users.circleModerator, RemovalReason.CIRCLE_MODERATOR],
      [users.author, RemovalReason.AUTHOR],
      [users.platformModerator, RemovalReason.MODERATION],
      [users.admin, RemovalReason.MODERATION],
    ]);
  });

  it("ListFeed and ListCirclePosts: members, without the posts of blocked users", async () => {
    const { postId } = await fixture();
    const expected = {
      ...everyone("ok"),
      blocked: "ok, without it",
      blocking: "ok, without it",
      nonMember: "PermissionDenied",
      platformModerator: "PermissionDenied",
      admin: "PermissionDenied",
    };
    const shows = (posts: { id: string }[]) =>
      posts.some((p) => p.id === postId) ? "ok" : "ok, without it";
    const feedOutcome = async (actor: Actor) => {
      try {
        return shows(
          (await h.client.listFeed({ circleId: circle.id, pageSize: 100 }, await as(actor))).posts,
        );
      } catch (err) {
        return Code[ConnectError.from(err).code];
      }
    };
    const circleOutcome = async (actor: Actor) => {
      try {
        return shows(
          (await h.client.listCirclePosts({ circleId: circle.id, pageSize: 100 }, await as(actor)))
            .posts,
        );
      } catch (err) {
        return Code[ConnectError.from(err).code];
      }
    };
    const feed: Record<string, string> = {};
    const circlePosts: Record<string, string> = {};
    for (const actor of Object.keys(expected) as Actor[]) {
      feed[actor] = (await feedOutcome(actor)) ?? "";
      circlePosts[actor] = (await circleOutcome(actor)) ?? "";
    }
    expect(feed).toEqual(expected);
    expect(circlePosts).toEqual(expected);
  });

  it("RespondToPost and ListResponses: members who may see the post", async () => {
    const { postId } = await fixture();
    const expected = {
      ...everyone("ok"),
      blocked: "NotFound",
      blocking: "NotFound",
      nonMember: "NotFound",
      platformModerator: "NotFound",
      admin: "NotFound",
    };
    await check(expected, async (actor) =>
      h.client.respondToPost({ postId, body: `from ${actor}` }, await as(actor)),
    );
    await check(expected, async (actor) => h.client.listResponses({ postId }, await as(actor)));
  });

  it("DeleteResponse: its author, circle moderators and owners, platform moderators and admins", async () => {
    const expected = {
      ...everyone("ok"),
      member: "PermissionDenied",
      author: "PermissionDenied", // the post's author does not own the responses
      blocked: "NotFound",
      blocking: "NotFound",
      nonMember: "NotFound",
    };
    await check(expected, async (actor) => {
      const { responseId } = await fixture();
      await h.client.deleteResponse({ responseId }, await as(actor));
    });
  });

  it("blocks never shield content from moderators, and authors may always remove their own", async () => {
    const { postId } = await fixture();
    await h.block(users.author, users.circleModerator);
    try {
      expect(
        await outcome(async () => h.client.getPost({ postId }, await as("circleModerator"))),
      ).toBe("NotFound");
      expect(
        await outcome(async () => h.client.deletePost({ postId }, await as("circleModerator"))),
      ).toBe("ok");
    } finally {
      await h.unblock(users.author, users.circleModerator);
    }

    // An author who left the circle can no longer post or read their post, but can still
    // delete it.
    const leaver = newId();
    await circle.join(leaver);
    const own =
      (await h.client.createPost({ circleId: circle.id, body: "mine" }, await h.as(leaver))).post
        ?.id ?? "";
    await circle.leave(leaver);
    expect(
      await outcome(async () =>
        h.client.createPost({ circleId: circle.id, body: "again" }, await h.as(leaver)),
      ),
    ).toBe("PermissionDenied");
    expect(await outcome(async () => h.client.getPost({ postId: own }, await h.as(leaver)))).toBe(
      "NotFound",
    );
    expect(
      await outcome(async () => h.client.deletePost({ postId: own }, await h.as(leaver))),
    ).toBe("ok");
  });

  it("an archived circle is read-only: no posts, edits or responses; removal still works", async () => {
    const owner = newId();
    const author = newId();
    const archived = await h.createCircle(owner);
    await archived.join(author);
    const asAuthor = await h.as(author);
    const postId =
      (await h.client.createPost({ circleId: archived.id, body: "before" }, asAuthor)).post?.id ??
      "";
    const { response } = await h.client.respondToPost({ postId, body: "reply" }, asAuthor);
    await archived.archive(owner);

    expect(
      await outcome(() => h.client.createPost({ circleId: archived.id, body: "after" }, asAuthor)),
    ).toBe("FailedPrecondition");
    expect(
      await outcome(() =>
        h.client.updatePost({ postId, body: "after", expectedVersion: 1n }, asAuthor),
      ),
    ).toBe("FailedPrecondition");
    expect(await outcome(() => h.client.respondToPost({ postId, body: "after" }, asAuthor))).toBe(
      "FailedPrecondition",
    );
    expect(await outcome(() => h.client.getPost({ postId }, asAuthor))).toBe("ok");
    expect(await outcome(() => h.client.listCirclePosts({ circleId: archived.id }, asAuthor))).toBe(
      "ok",
    );
    expect(
      await outcome(() => h.client.deleteResponse({ responseId: response?.id ?? "" }, asAuthor)),
    ).toBe("ok");
    expect(await outcome(() => h.client.deletePost({ postId }, asAuthor))).toBe("ok");
  });
});
