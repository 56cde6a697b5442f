import type { Kysely } from "kysely";
import { livePost, postShownTo, responseShownTo } from "./access.ts";
import type { ContentDatabase } from "./db/schema.ts";
import type { PostRow, ResponseRow } from "./rpc/post-mapping.ts";

/**
 * A post that is neither removed nor expired, nor hidden for review from `viewerId` (only its
 * author sees it then); `undefined` otherwise.
 */
export function findLivePost(
  db: Kysely<ContentDatabase>,
  postId: string,
  viewerId: string,
): Promise<PostRow | undefined> {
  return db
    .selectFrom("post")
    .selectAll()
    .where("id", "=", postId)
    .where(livePost)
    .where(postShownTo(viewerId))
    .executeTakeFirst();
}

/**
 * A response that is not removed nor hidden from `viewerId`, to a post `findLivePost` gives
 * `viewerId`, with that post.
 */
export async function findLiveResponse(
  db: Kysely<ContentDatabase>,
  responseId: string,
  viewerId: string,
): Promise<{ response: ResponseRow; post: PostRow } | undefined> {
  const response = await db
    .selectFrom("response")
    .selectAll()
    .where("id", "=", responseId)
    .where("deleted_at", "is", null)
    .where(responseShownTo(viewerId))
    .executeTakeFirst();
  if (response === undefined) return undefined;
  const post = await findLivePost(db, response.post_id, viewerId);
  return post === undefined ? undefined : { response, post };
}
