import type { ConnectRouter } from "@connectrpc/connect";
import { NotifierService } from "@kindred/proto/notifier/v1";
import type { NotifierDeps } from "./deps.ts";
import { getPreferences } from "./rpc/get-preferences.ts";
import { registerDevice } from "./rpc/register-device.ts";
import { unregisterDevice } from "./rpc/unregister-device.ts";
import { updatePreferences } from "./rpc/update-preferences.ts";

/** The public Connect services notifier owns: one file per method under `rpc/`. */
export function routes(deps: NotifierDeps) {
  return (router: ConnectRouter) => {
    router.service(NotifierService, {
      registerDevice: registerDevice(deps),
      unregisterDevice: unregisterDevice(deps),
      getPreferences: getPreferences(deps),
      updatePreferences: updatePreferences(deps),
    });
  };
}
