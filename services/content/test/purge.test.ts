import { waitFor } from "@kindred/testing";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobNames } from "../src/app.ts";
import { purgeExpired } from "../src/purge.ts";
import { ContentHarness, newId } from "./harness.ts";

let h: ContentHarness;
beforeAll(async () => {
  h = await ContentHarness.start();
});
afterAll(() => h?.[Symbol.asyncDispose]());

const now = new Date("2026-11-25T12:00:00Z");
const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
const circleId = newId();
const authorId = newId();

async function insertPost(fields: { expires_at?: Date; deleted_at?: Date } = {}) {
  const id = newId();
  await h.db.kysely
    .insertInto("post")
    .values({
      id,
      circle_id: circleId,
      author_id: authorId,
      body: "text",
      content_warning: null,
      created_at: ago(24 * 60),
      expires_at: fields.expires_at ?? null,
      deleted_at: fields.deleted_at ?? null,
    })
    .execute();
  return id;
}

async function insertResponse(postId: string, deletedAt: Date | null = null) {
  const id = newId();
  await h.db.kysely
    .insertInto("response")
    .values({ id, post_id: postId, author_id: authorId, body: "reply", deleted_at: deletedAt })
    .execute();
  return id;
}

const hold = (kind: "post" | "response", id: string) =>
  h.db.kysely
    .insertInto("evidence_hold")
    .values({ content_kind: kind, content_id: id, case_id: newId() })
    .execute();

async function remaining(table: "post" | "response", ids: string[]) {
  const rows = await h.db.kysely.selectFrom(table).select("id").where("id", "in", ids).execute();
  return new Set(rows.map((r) => r.id));
}

describe("purgeExpired", () => {
  it("hard-deletes long-expired and long-removed content, except what is under evidence hold", async () => {
    const expired = await insertPost({ expires_at: ago(120) });
    const expiredReplies = [await insertResponse(expired), await insertResponse(expired, ago(5))];
    const inGrace = await insertPost({ expires_at: ago(30) });
    const heldPost = await insertPost({ expires_at: ago(120) });
    const withHeldReply = await insertPost({ expires_at: ago(120) });
    const heldReply = await insertResponse(withHeldReply);
    const otherReply = await insertResponse(withHeldReply);
    const removed = await insertPost({ deleted_at: ago(120) });
    const recentlyRemoved = await insertPost({ deleted_at: ago(10) });
    const live = await insertPost();
    const liveReply = await insertResponse(live);
    const removedReply = await insertResponse(live, ago(120));
    const heldRemovedReply = await insertResponse(live, ago(120));
    const notYetExpired = await insertPost({ expires_at: new Date(now.getTime() + 60_000) });
    await hold("post", heldPost);
    await hold("response", heldReply);
    await hold("response", heldRemovedReply);

    const result = await purgeExpired(h.db, { now, graceSeconds: 3_600, batchSize: 2 });
    expect(result).toEqual({ posts: 2, responses: 3 });

    const posts = [expired, inGrace, heldPost, withHeldReply, removed, recentlyRemoved, live];
    expect(await remaining("post", [...posts, notYetExpired])).toEqual(
      new Set([inGrace, heldPost, withHeldReply, recentlyRemoved, live, notYetExpired]),
    );
    expect(
      await remaining("response", [
        ...expiredReplies,
        heldReply,
        otherReply,
        liveReply,
        removedReply,
        heldRemovedReply,
      ]),
    ).toEqual(new Set([heldReply, otherReply, liveReply, heldRemovedReply]));

    // Nothing left to do: a second run deletes nothing.
    expect(await purgeExpired(h.db, { now, graceSeconds: 3_600 })).toEqual({
      posts: 0,
      responses: 0,
    });

    // The cases close (issue 6 deletes the holds): the next run purges what they kept.
    await h.db.kysely.deleteFrom("evidence_hold").execute();
    expect(await purgeExpired(h.db, { now, graceSeconds: 3_600 })).toEqual({
      posts: 2,
      responses: 3,
    });
    expect(await remaining("post", posts)).toEqual(new Set([inGrace, recentlyRemoved, live]));
    expect(await remaining("response", [liveReply, heldRemovedReply])).toEqual(
      new Set([liveReply]),
    );
  });
});

describe("the purge job", () => {
  it("runs purgeExpired on its schedule, with PURGE_GRACE_SECONDS, under the job runner", async () => {
    await using jobs = await ContentHarness.start({
      env: { PURGE_INTERVAL_MS: "100", PURGE_GRACE_SECONDS: "60" },
    });
    const insert = async (expiresAgoSeconds: number) => {
      const id = newId();
      await jobs.db.kysely
        .insertInto("post")
        .values({
          id,
          circle_id: circleId,
          author_id: authorId,
          body: "text",
          content_warning: null,
          created_at: sql<Date>`now() - interval '1 day'`,
          expires_at: sql<Date>`now() - make_interval(secs => ${expiresAgoSeconds})`,
          deleted_at: null,
        })
        .execute();
      return id;
    };
    const longGone = await insert(3_600);
    const inGrace = await insert(10);

    await waitFor(
      async () =>
        (await jobs.db.kysely
          .selectFrom("post")
          .select("id")
          .where("id", "=", longGone)
          .executeTakeFirst()) === undefined
          ? true
          : undefined,
      { what: "the scheduled purge", timeoutMs: 10_000 },
    );
    const left = await jobs.db.kysely.selectFrom("post").select("id").execute();
    expect(left.map((p) => p.id)).toEqual([inGrace]);
    const status = jobs.app.jobs.status().find((job) => job.name === jobNames.purge);
    expect(status).toMatchObject({ everyMs: 100, lastOutcome: "ok" });
    expect(await jobs.metrics()).toMatch(
      /kindred_job_items_total\{[^}]*job="purge",kind="posts"[^}]*\} 1\b/,
    );
    // Run on demand too, under the same lock: while a scheduled run holds it the answer is
    // "skipped"; once it is free, the run finds nothing left to do.
    const onDemand = await waitFor(
      async () => {
        const run = await jobs.app.jobs.runNow(jobNames.purge);
        return run.outcome === "skipped" ? undefined : run;
      },
      { what: "an on-demand purge that got the lock" },
    );
    expect(onDemand).toMatchObject({ outcome: "ok", items: { posts: 0, responses: 0 } });
  });

  it("is scheduled every PURGE_INTERVAL_MS, 10 minutes by default", () => {
    const purge = h.app.jobs.status().find((job) => job.name === jobNames.purge);
    expect(purge).toMatchObject({ everyMs: 600_000 });
  });
});
