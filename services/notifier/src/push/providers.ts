import type { Registry } from "prom-client";
import { createApnsProvider } from "./apns.ts";
import { createFcmProvider } from "./fcm.ts";
import type { PushPlatform, PushProvider } from "./types.ts";

/** APNs token-based (p8) credentials; all or nothing. */
export interface ApnsSettings {
  baseUrl: string;
  teamId: string;
  keyId: string;
  privateKeyPem: string;
  bundleId: string;
  ratePerSecond: number;
  /** Extra CA (PEM) trusted for `baseUrl`. */
  ca?: string;
}

/** FCM HTTP v1 with a service account; all or nothing. */
export interface FcmSettings {
  baseUrl: string;
  serviceAccountJson: string;
  ratePerSecond: number;
}

export interface PushSettings {
  apns: ApnsSettings | undefined;
  fcm: FcmSettings | undefined;
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

/**
 * The push providers configured for this deployment, by platform. A platform without one gets
 * no pushes (the dispatcher records them as dropped, with the reason). Each provider closes its
 * connections when disposed.
 */
export function pushProviders(
  settings: PushSettings,
  { logger, registry }: { logger: Logger; registry: Registry },
): Partial<Record<PushPlatform, PushProvider & Partial<AsyncDisposable>>> {
  const providers: Partial<Record<PushPlatform, PushProvider & Partial<AsyncDisposable>>> = {};
  if (settings.apns !== undefined) {
    providers.ios = createApnsProvider({
      ...settings.apns,
      logger: logger.child({ component: "apns" }),
      registry,
    });
  }
  if (settings.fcm !== undefined) {
    providers.android = createFcmProvider({
      ...settings.fcm,
      logger: logger.child({ component: "fcm" }),
      registry,
    });
  }
  return providers;
}
