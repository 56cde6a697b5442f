import type { ConnectRouter } from "@connectrpc/connect";
import { NotifierService } from "@kindred/proto/notifier/v1";

/**
 * The public Connect services notifier owns. Methods not implemented yet answer `unimplemented`
 * (connect-es does so for every method missing from an implementation); issue 7 fills them in.
 */
export function routes() {
  return (router: ConnectRouter) => {
    router.service(NotifierService, {});
  };
}
