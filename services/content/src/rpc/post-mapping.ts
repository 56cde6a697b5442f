import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Post, PostSchema } from "@kindred/proto/content/v1";
import type { Selectable } from "kysely";
import type { ContentDatabase } from "../db/schema.ts";

export type PostRow = Selectable<ContentDatabase["post"]>;

export function toPost(row: PostRow): Post {
  return create(PostSchema, {
    id: row.id,
    circleId: row.circle_id,
    authorId: row.author_id,
    body: row.body,
    ...(row.content_warning === null ? {} : { contentWarning: row.content_warning }),
    version: BigInt(row.version),
    createdAt: timestampFromDate(row.created_at),
    updatedAt: timestampFromDate(row.updated_at),
    ...(row.expires_at === null ? {} : { expiresAt: timestampFromDate(row.expires_at) }),
  });
}
