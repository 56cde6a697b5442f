import type { ConnectRouter } from "@connectrpc/connect";
import { CircleService } from "@kindred/proto/circles/v1";

/**
 * The public Connect services circles owns. Methods not implemented yet answer `unimplemented`
 * (connect-es does so for every method missing from an implementation); issue 5 fills them in.
 */
export function routes() {
  return (router: ConnectRouter) => {
    router.service(CircleService, {});
  };
}
