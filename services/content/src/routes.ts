import type { ConnectRouter } from "@connectrpc/connect";
import type { Database } from "@kindred/database";
import type { Outbox } from "@kindred/events";
import { PostService, SupportService } from "@kindred/proto/content/v1";
import type { ContentDatabase } from "./db/schema.ts";
import { createPost } from "./rpc/create-post.ts";
import { getPost } from "./rpc/get-post.ts";

/**
 * The public Connect services content owns. Methods not implemented yet answer `unimplemented`
 * (connect-es does so for every method missing from an implementation); issue 5 fills them in.
 */
export function routes(deps: { db: Database<ContentDatabase>; outbox: Outbox }) {
  return (router: ConnectRouter) => {
    router.service(PostService, {
      createPost: createPost(deps),
      getPost: getPost(deps),
    });
    router.service(SupportService, {});
  };
}
