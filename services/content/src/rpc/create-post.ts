import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import { contentEvents } from "@kindred/event-catalog";
import { newEventId } from "@kindred/events";
import type { CreatePostRequest, CreatePostResponse } from "@kindred/proto/content/v1";
import { sql } from "kysely";
import { mayWriteIn } from "../access.ts";
import type { PostDeps } from "../deps.ts";
import { toPost } from "./post-mapping.ts";

/** What a new post holds, checked and trimmed. */
interface NewPost {
  circleId: string;
  authorId: string;
  body: string;
  warning: string | null;
  expiresInSeconds: bigint | undefined;
}

/**
 * Writes the post and its `content.post.created.v1` event in one transaction: both exist, or
 * neither. Only active members of a circle that is not archived may post (`AccessRules`): the
 * insert itself checks it (`mayWriteIn`), so a post costs no query before its transaction. When
 * it inserts nothing, the membership check waits a bounded time for the projection (ADR 11) and
 * refuses as `requireMember` does, or the insert is tried once more.
 */
export function createPost({
  db,
  outbox,
  access,
  feedCache,
}: Pick<PostDeps, "db" | "outbox" | "access" | "feedCache">) {
  /** The stored post, or `undefined` when the author may not post in the circle (yet). */
  const insertIfMember = (post: NewPost) =>
    db.transaction(async (trx) => {
      const row = await trx
        .insertInto("post")
        .columns(["id", "circle_id", "author_id", "body", "content_warning", "expires_at"])
        .expression(
          trx
            .selectNoFrom((eb) => [
              eb.cast<string>(eb.val(newEventId()), "uuid").as("id"),
              eb.cast<string>(eb.val(post.circleId), "uuid").as("circle_id"),
              eb.cast<string>(eb.val(post.authorId), "uuid").as("author_id"),
              eb.cast<string>(eb.val(post.body), "text").as("body"),
              eb.cast<string | null>(eb.val(post.warning), "text").as("content_warning"),
              // The database's clock, as every read that hides expired posts uses.
              (post.expiresInSeconds === undefined
                ? sql<Date | null>`null::timestamptz`
                : sql<Date>`now() + make_interval(secs => ${Number(post.expiresInSeconds)})`
              ).as("expires_at"),
            ])
            .where(mayWriteIn(post.circleId, post.authorId)),
        )
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) return undefined;
      await outbox.enqueue(
        trx,
        contentEvents.postCreated,
        {
          postId: row.id,
          circleId: row.circle_id,
          authorId: row.author_id,
          body: row.body,
          ...(row.content_warning === null ? {} : { contentWarning: row.content_warning }),
          createdAt: timestampFromDate(row.created_at),
          ...(row.expires_at === null ? {} : { expiresAt: timestampFromDate(row.expires_at) }),
          version: BigInt(row.version),
        },
        { actorId: post.authorId, aggregateId: row.id },
      );
      feedCache.afterCommit(trx, { circles: [row.circle_id] });
      return row;
    });

  return async (
    req: CreatePostRequest,
    ctx: HandlerContext,
  ): Promise<Partial<CreatePostResponse>> => {
    const principal = requirePrincipal(ctx);
    const body = req.body.trim();
    if (body === "") throw new DomainError("invalid_argument", "body must not be blank");
    const warning = req.contentWarning?.trim();
    const post: NewPost = {
      circleId: req.circleId,
      authorId: principal.userId,
      body,
      warning: warning === undefined || warning === "" ? null : warning,
      expiresInSeconds: req.expiresInSeconds,
    };
    for (let attempt = 1; ; attempt++) {
      const row = await insertIfMember(post);
      if (row !== undefined) return { post: toPost(row) };
      // Not an active member of a live circle as the projection has it (yet): wait for it
      // (ADR 11), refused with `requireMember`'s code, then try again.
      await access.requireMember(post.circleId, post.authorId, { write: true, signal: ctx.signal });
      // A member again after the wait, and not at the insert: the membership keeps changing.
      if (attempt === 2) throw new DomainError("aborted", "the circle changed meanwhile; retry");
    }
  };
}
