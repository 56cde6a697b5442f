import type { ConnectRouter } from "@connectrpc/connect";
import { AuthService, UserService } from "@kindred/proto/identity/v1";
import type { IdentityDeps } from "./deps.ts";
import type { OAuthFlows } from "./oauth/flows.ts";
import { authService } from "./rpc/auth-service.ts";
import { userService } from "./rpc/user-service.ts";

/** The public Connect services identity owns. */
export function routes(deps: IdentityDeps, oauth: OAuthFlows) {
  return (router: ConnectRouter) => {
    router.service(AuthService, authService(deps, oauth));
    router.service(UserService, userService(deps));
  };
}
