/**
 * The seam between notifier's dispatcher and the push providers (APNs, FCM): one message to one
 * device token, one attempt, one classified result. The dispatcher owns queueing, retry
 * scheduling and the delivery log; a provider owns its protocol, credentials, its rate cap and
 * its circuit breaker.
 */
export type PushPlatform = "ios" | "android";

export interface PushMessage {
  /** The device token the app registered. */
  token: string;
  /** Shown on the device. For sensitive kinds a neutral title only (lock-screen safe). */
  title: string;
  /** Shown on the device; empty for sensitive kinds. */
  body: string;
  /** Ids the app uses to fetch the details after unlock (`kind`, `post_id`, `sos_id`, …). */
  data: Record<string, string>;
  /** `high`: SOS and other time-critical pushes; `normal` otherwise. */
  priority: "high" | "normal";
  /** A later push with the same key replaces this one (APNs collapse id, FCM collapse key). */
  collapseKey?: string;
  /** How long the provider may hold the push for an offline device; 0: now or never. */
  ttlSeconds: number;
  /** iOS interruption level; `critical` needs Apple's entitlement. */
  interruptionLevel?: "passive" | "active" | "time-sensitive" | "critical";
}

export type PushResult =
  /** The provider accepted it. */
  | { outcome: "sent"; providerId?: string }
  /** The token is dead (APNs 410/BadDeviceToken, FCM UNREGISTERED/INVALID_ARGUMENT on the token): remove the device. */
  | {
      outcome: "invalid_token";
      reason: string;
      /**
       * Since when the token is invalid (APNs 410's `timestamp`): a device registered again
       * after that time keeps its token.
       */
      invalidSince?: Date;
    }
  /** Try again later (429, 5xx, network, timeout, open circuit); `retryAfterMs` from `Retry-After`. */
  | {
      outcome: "retry";
      reason: string;
      retryAfterMs?: number;
      /** Nothing was sent (open circuit, rate cap): the dispatcher does not count an attempt. */
      notSent?: true;
    }
  /** Will never succeed as is (a bad payload, our credentials refused): log and stop. */
  | { outcome: "failed"; reason: string };

export interface PushProvider {
  readonly platform: PushPlatform;
  /** One attempt; never throws for provider trouble (that is a result), only for `signal`. */
  send(message: PushMessage, signal?: AbortSignal): Promise<PushResult>;
}
