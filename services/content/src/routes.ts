import type { ConnectRouter } from "@connectrpc/connect";
import { PostService, SupportService } from "@kindred/proto/content/v1";
import type { PostDeps } from "./deps.ts";
import { createPost } from "./rpc/create-post.ts";
import { deletePost } from "./rpc/delete-post.ts";
import { deleteResponse } from "./rpc/delete-response.ts";
import { getPost } from "./rpc/get-post.ts";
import { listCirclePosts } from "./rpc/list-circle-posts.ts";
import { listFeed } from "./rpc/list-feed.ts";
import { listResponses } from "./rpc/list-responses.ts";
import { respondToPost } from "./rpc/respond-to-post.ts";
import { updatePost } from "./rpc/update-post.ts";

/**
 * The public Connect services content owns. Methods not implemented yet answer `unimplemented`
 * (connect-es does so for every method missing from an implementation); SupportService (SOS)
 * comes next.
 */
export function routes(deps: PostDeps) {
  return (router: ConnectRouter) => {
    router.service(PostService, {
      createPost: createPost(deps),
      getPost: getPost(deps),
      updatePost: updatePost(deps),
      deletePost: deletePost(deps),
      listFeed: listFeed(deps),
      listCirclePosts: listCirclePosts(deps),
      respondToPost: respondToPost(deps),
      listResponses: listResponses(deps),
      deleteResponse: deleteResponse(deps),
    });
    router.service(SupportService, {});
  };
}
