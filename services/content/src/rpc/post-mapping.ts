import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RemovalReason } from "@kindred/proto/content/events/v1";
import { type Post, PostSchema, type Response, ResponseSchema } from "@kindred/proto/content/v1";
import type { Selectable } from "kysely";
import type { ContentDatabase, RemovalReasonName } from "../db/schema.ts";

export type PostRow = Selectable<ContentDatabase["post"]>;
export type ResponseRow = Selectable<ContentDatabase["response"]>;

export function toPost(row: PostRow): Post {
  const edited = row.updated_at.getTime() !== row.created_at.getTime();
  return create(PostSchema, {
    id: row.id,
    circleId: row.circle_id,
    authorId: row.author_id,
    body: row.body,
    ...(row.content_warning === null ? {} : { contentWarning: row.content_warning }),
    version: BigInt(row.version),
    createdAt: timestampFromDate(row.created_at),
    // "unset if never edited" (types.proto): creation writes both columns in one statement.
    ...(edited ? { updatedAt: timestampFromDate(row.updated_at) } : {}),
    ...(row.expires_at === null ? {} : { expiresAt: timestampFromDate(row.expires_at) }),
  });
}

export function toResponse(row: ResponseRow): Response {
  return create(ResponseSchema, {
    id: row.id,
    postId: row.post_id,
    authorId: row.author_id,
    body: row.body,
    createdAt: timestampFromDate(row.created_at),
  });
}

const removalReasons: Record<RemovalReasonName, RemovalReason> = {
  author: RemovalReason.AUTHOR,
  circle_moderator: RemovalReason.CIRCLE_MODERATOR,
  moderation: RemovalReason.MODERATION,
  account_deleted: RemovalReason.ACCOUNT_DELETED,
};

/** The events' `RemovalReason` for a stored reason. */
export const removalReasonOf = (name: RemovalReasonName): RemovalReason => removalReasons[name];
