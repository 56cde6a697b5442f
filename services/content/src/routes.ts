import type { ConnectRouter } from "@connectrpc/connect";
import { PostService, SupportService } from "@kindred/proto/content/v1";
import type { PostDeps, SosDeps } from "./deps.ts";
import { acknowledgeSos } from "./rpc/acknowledge-sos.ts";
import { createPost } from "./rpc/create-post.ts";
import { deletePost } from "./rpc/delete-post.ts";
import { deleteResponse } from "./rpc/delete-response.ts";
import { getPost } from "./rpc/get-post.ts";
import { getSos } from "./rpc/get-sos.ts";
import { listActiveSos } from "./rpc/list-active-sos.ts";
import { listCirclePosts } from "./rpc/list-circle-posts.ts";
import { listFeed } from "./rpc/list-feed.ts";
import { listResponses } from "./rpc/list-responses.ts";
import { raiseSos } from "./rpc/raise-sos.ts";
import { resolveSos } from "./rpc/resolve-sos.ts";
import { respondToPost } from "./rpc/respond-to-post.ts";
import { updatePost } from "./rpc/update-post.ts";

/** The public Connect services content owns. */
export function routes(deps: { posts: PostDeps; sos: SosDeps }) {
  return (router: ConnectRouter) => {
    const { posts, sos } = deps;
    router.service(PostService, {
      createPost: createPost(posts),
      getPost: getPost(posts),
      updatePost: updatePost(posts),
      deletePost: deletePost(posts),
      listFeed: listFeed(posts),
      listCirclePosts: listCirclePosts(posts),
      respondToPost: respondToPost(posts),
      listResponses: listResponses(posts),
      deleteResponse: deleteResponse(posts),
    });
    router.service(SupportService, {
      raiseSos: raiseSos(sos),
      getSos: getSos(sos),
      acknowledgeSos: acknowledgeSos(sos),
      resolveSos: resolveSos(sos),
      listActiveSos: listActiveSos(sos),
    });
  };
}
