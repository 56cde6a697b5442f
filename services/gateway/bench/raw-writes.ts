import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { DatabaseSettings } from "@kindred/config";
import { Database } from "@kindred/database";
import { contentEvents } from "@kindred/event-catalog";
import { newEventId, type Outbox } from "@kindred/events";
import { createLogger } from "@kindred/logging";
import type { Generated } from "kysely";
import { postBody } from "./fixture.ts";

/** Content's `post` table, as far as CreatePost writes it. */
interface PostTables {
  post: {
    id: string;
    circle_id: string;
    author_id: string;
    body: string;
    content_warning: string | null;
    created_at: Generated<Date>;
    expires_at: Date | null;
    version: Generated<string>;
    deleted_at: Date | null;
  };
}

/**
 * A pool on content's own database, sized and timed out like content's, for the raw series:
 * what CreatePost stores, without the service around it.
 */
export function openRawDatabase(settings: DatabaseSettings): Database<PostTables> {
  return Database.create<PostTables>(
    {
      url: settings.url,
      ...(settings.password === undefined ? {} : { password: settings.password }),
      poolMax: settings.poolMax,
      connectTimeoutMs: settings.connectTimeoutMs,
      statementTimeoutMs: settings.statementTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs,
      applicationName: "api-bench-raw",
    },
    { logger: createLogger({ service: "api-bench", level: "warn" }) },
  );
}

/**
 * One raw CreatePost per call: the transaction content's CreatePost commits (the `post` row,
 * then `content.post.created.v1` through content's own `Outbox.enqueue`), with the same values,
 * by the writer `w`'s user in the writers' circle. No membership check, no RPC.
 */
export function rawCreatePost(
  db: Database<PostTables>,
  outbox: Outbox,
  { circleId, authorIds }: { circleId: string; authorIds: readonly string[] },
): (worker: number) => Promise<void> {
  return async (w) => {
    const authorId = authorIds[w % authorIds.length] ?? "";
    await db.transaction(async (trx) => {
      const post = await trx
        .insertInto("post")
        .values({
          id: newEventId(),
          circle_id: circleId,
          author_id: authorId,
          body: postBody,
          content_warning: null,
          expires_at: null,
          deleted_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await outbox.enqueue(
        trx,
        contentEvents.postCreated,
        {
          postId: post.id,
          circleId: post.circle_id,
          authorId: post.author_id,
          body: post.body,
          createdAt: timestampFromDate(post.created_at),
          version: BigInt(post.version),
        },
        { actorId: authorId, aggregateId: post.id },
      );
    });
  };
}
