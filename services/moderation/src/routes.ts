import type { ConnectRouter } from "@connectrpc/connect";
import { ModerationService } from "@kindred/proto/moderation/v1";

/**
 * The public Connect services moderation owns. Methods not implemented yet answer `unimplemented`
 * (connect-es does so for every method missing from an implementation); issue 6 fills them in.
 */
export function routes() {
  return (router: ConnectRouter) => {
    router.service(ModerationService, {});
  };
}
