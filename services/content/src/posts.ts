import type { Kysely } from "kysely";
import { livePost } from "./access.ts";
import type { ContentDatabase } from "./db/schema.ts";
import type { PostRow, ResponseRow } from "./rpc/post-mapping.ts";

/** A post that is neither removed nor expired; `undefined` otherwise. */
export function findLivePost(
  db: Kysely<ContentDatabase>,
  postId: string,
): Promise<PostRow | undefined> {
  return db
    .selectFrom("post")
    .selectAll()
    .where("id", "=", postId)
    .where(livePost)
    .executeTakeFirst();
}

/** A response that is not removed, to a live post, with that post. */
export async function findLiveResponse(
  db: Kysely<ContentDatabase>,
  responseId: string,
): Promise<{ response: ResponseRow; post: PostRow } | undefined> {
  const response = await db
    .selectFrom("response")
    .selectAll()
    .where("id", "=", responseId)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (response === undefined) return undefined;
  const post = await findLivePost(db, response.post_id);
  return post === undefined ? undefined : { response, post };
}
