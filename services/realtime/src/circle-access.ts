import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import type { Logger } from "@kindred/logging";
import { CircleService } from "@kindred/proto/circles/v1";
import { ErrorCode } from "@kindred/proto/realtime/v1";
import { Counter, type Registry } from "prom-client";

/** Whether a user may subscribe to a circle's channel now. */
export type Admission =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly code: ErrorCode; readonly message: string };

/** Who may subscribe to `circle:<id>`: current members (ADR 18). */
export interface CircleAccess {
  /**
   * Asks whether `userId` is a member of the circle now, as that user (their access token).
   * Never rejects: a failure to find out is a refusal with `INTERNAL` ("try again"). A known
   * answer comes at once (not a promise), so a cached subscribe completes in the same turn.
   */
  admit(userId: string, circleId: string, accessToken: string): Admission | Promise<Admission>;
  /**
   * Forgets what is known of the user's membership (or of every member's, without `userId`):
   * a membership event arrived.
   */
  forget(circleId: string, userId?: string): void;
}

export interface CirclesAccessOptions {
  /** A Connect transport to the circles service. */
  transport: Transport;
  /** Deadline of one GetCircle. */
  timeoutMs: number;
  /** How long a "member" answer is reused; 0: never. */
  cacheMs: number;
  logger: Logger;
  registry: Registry;
  /** The clock, for the cache (tests). */
  now?: () => number;
}

type Outcome = "member" | "cached" | "not_member" | "not_found" | "archived" | "refused" | "failed";
const outcomes: readonly Outcome[] = [
  "member",
  "cached",
  "not_member",
  "not_found",
  "archived",
  "refused",
  "failed",
];

const refused = (code: ErrorCode, message: string): Admission => ({
  allowed: false,
  code,
  message,
});

/**
 * Realtime has no database: it asks circles, which owns memberships, with the client's own
 * access token, so circles applies its own rules (ADR 12) to exactly this user. `my_role` of
 * `GetCircle` is set only for members; an archived circle has no live channel.
 *
 * Positive answers are kept for `cacheMs` per (user, circle), and forgotten when a membership
 * event about the pair (or an archive of the circle) arrives. Refusals are not kept: joining a
 * circle must not wait for a cache to expire.
 */
export class CirclesAccess implements CircleAccess {
  readonly #client;
  readonly #options: CirclesAccessOptions;
  readonly #now: () => number;
  /** `<circle>:<user>` → until when the "member" answer holds; in insertion (= expiry) order. */
  readonly #members = new Map<string, number>();
  /**
   * Checks under way by key, and whether a membership event arrived meanwhile: their answer may
   * predate it, so it is not kept.
   */
  readonly #asking = new Map<string, { count: number; stale: boolean }>();
  readonly #checks: Counter<"outcome">;

  constructor(options: CirclesAccessOptions) {
    this.#options = options;
    this.#client = createClient(CircleService, options.transport);
    this.#now = options.now ?? Date.now;
    this.#checks = new Counter({
      name: "kindred_realtime_membership_checks_total",
      help: "Circle subscriptions checked, by outcome: member, cached, not_member, not_found, archived, refused (token), failed (circles unavailable).",
      labelNames: ["outcome"] as const,
      registers: [options.registry],
    });
    for (const outcome of outcomes) this.#checks.inc({ outcome }, 0);
  }

  admit(userId: string, circleId: string, accessToken: string): Admission | Promise<Admission> {
    const key = `${circleId.toLowerCase()}:${userId.toLowerCase()}`;
    const until = this.#members.get(key);
    if (until !== undefined && until > this.#now()) {
      this.#checks.inc({ outcome: "cached" });
      return { allowed: true };
    }
    return this.#check(key, circleId, accessToken);
  }

  async #check(key: string, circleId: string, accessToken: string): Promise<Admission> {
    const asking = this.#asking.get(key) ?? { count: 0, stale: false };
    asking.count += 1;
    this.#asking.set(key, asking);
    try {
      const [outcome, admission] = await this.#ask(circleId, accessToken);
      this.#checks.inc({ outcome });
      if (admission.allowed && !asking.stale && this.#options.cacheMs > 0) this.#remember(key);
      return admission;
    } finally {
      asking.count -= 1;
      if (asking.count === 0) this.#asking.delete(key);
    }
  }

  forget(circleId: string, userId?: string): void {
    const circle = circleId.toLowerCase();
    if (userId !== undefined) {
      const key = `${circle}:${userId.toLowerCase()}`;
      this.#members.delete(key);
      const asking = this.#asking.get(key);
      if (asking !== undefined) asking.stale = true;
      return;
    }
    for (const key of [...this.#members.keys()]) {
      if (key.startsWith(`${circle}:`)) this.#members.delete(key);
    }
    for (const [key, asking] of this.#asking) {
      if (key.startsWith(`${circle}:`)) asking.stale = true;
    }
  }

  #remember(key: string): void {
    const now = this.#now();
    // Every entry lives as long, so the oldest come first: drop the expired ones from the front.
    for (const [oldest, until] of this.#members) {
      if (until > now) break;
      this.#members.delete(oldest);
    }
    this.#members.delete(key);
    this.#members.set(key, now + this.#options.cacheMs);
  }

  async #ask(circleId: string, accessToken: string): Promise<[Outcome, Admission]> {
    try {
      const { circle, myRole } = await this.#client.getCircle(
        { circleId },
        {
          timeoutMs: this.#options.timeoutMs,
          headers: { authorization: `Bearer ${accessToken}` },
        },
      );
      if (myRole === undefined) {
        return [
          "not_member",
          refused(ErrorCode.PERMISSION_DENIED, "only members of this circle can subscribe to it"),
        ];
      }
      if (circle?.archivedAt !== undefined) {
        return [
          "archived",
          refused(ErrorCode.PERMISSION_DENIED, "the circle is archived; it has no live channel"),
        ];
      }
      return ["member", { allowed: true }];
    } catch (err) {
      const error = ConnectError.from(err);
      if (error.code === Code.NotFound) {
        return ["not_found", refused(ErrorCode.NOT_FOUND, "circle not found")];
      }
      if (error.code === Code.PermissionDenied) {
        return [
          "not_member",
          refused(ErrorCode.PERMISSION_DENIED, "only members of this circle can subscribe to it"),
        ];
      }
      if (error.code === Code.Unauthenticated) {
        return [
          "refused",
          refused(
            ErrorCode.UNAUTHENTICATED,
            "circles refused your access token; authenticate again, then subscribe",
          ),
        ];
      }
      this.#options.logger.warn(
        { circleId, code: Code[error.code], err: error.rawMessage },
        "circles did not answer a membership check",
      );
      return [
        "failed",
        refused(ErrorCode.INTERNAL, "could not check your membership of this circle; try again"),
      ];
    }
  }
}
