import type { ConnectRouter } from "@connectrpc/connect";
import { AuthService, UserService } from "@kindred/proto/identity/v1";

/**
 * The public Connect services identity owns. Methods not implemented yet answer `unimplemented`
 * (connect-es does so for every method missing from an implementation); issue 4 fills them in.
 */
export function routes() {
  return (router: ConnectRouter) => {
    router.service(AuthService, {});
    router.service(UserService, {});
  };
}
