import type { ConnectRouter } from "@connectrpc/connect";
import { PostService, SupportService } from "@kindred/proto/content/v1";

/**
 * The public Connect services content owns. Methods not implemented yet answer `unimplemented`
 * (connect-es does so for every method missing from an implementation); issue 5 fills them in.
 */
export function routes() {
  return (router: ConnectRouter) => {
    router.service(PostService, {});
    router.service(SupportService, {});
  };
}
