import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import type { Database } from "@kindred/database";
import { DomainError } from "@kindred/errors";
import type { GetPostRequest, GetPostResponse } from "@kindred/proto/content/v1";
import type { ContentDatabase } from "../db/schema.ts";
import { toPost } from "./post-mapping.ts";

/**
 * A post that exists, is not removed and has not expired. TODO(issue 5): members only, and
 * never across a block.
 */
export function getPost({ db }: { db: Database<ContentDatabase> }) {
  return async (req: GetPostRequest, ctx: HandlerContext): Promise<Partial<GetPostResponse>> => {
    requirePrincipal(ctx);
    const row = await db.kysely
      .selectFrom("post")
      .selectAll()
      .where("id", "=", req.postId)
      .where("deleted_at", "is", null)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", new Date())]))
      .executeTakeFirst();
    if (row === undefined) throw new DomainError("not_found", "post not found");
    return { post: toPost(row) };
  };
}
