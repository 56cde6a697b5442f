import { DomainError } from "@kindred/errors";
import type { RedisClient } from "@kindred/redis";
import type { LoginLimits } from "./config.ts";

/**
 * Brute-force protection for password checks, in Redis so every replica counts together:
 * - per client IP: at most `maxFailuresPerIp` failures per window, then refused until the
 *   window ends (slows credential stuffing from one address);
 * - per account: `maxFailuresPerAccount` failures in a window lock the account for
 *   `lockoutSeconds`, doubling with each further lockout that day up to `maxLockoutSeconds`
 *   (slows guessing one account from many addresses). A success clears the failures.
 * It fails closed: with Redis down, password sign-in answers `unavailable` (refresh still
 * works), because unthrottled guessing is worse than a short sign-in outage.
 */
export class LoginLimiter {
  readonly #redis: RedisClient;
  readonly #limits: LoginLimits;
  readonly #prefix: string;

  constructor(redis: RedisClient, limits: LoginLimits, prefix = "identity:login") {
    this.#redis = redis;
    this.#limits = limits;
    this.#prefix = prefix;
  }

  /** Throws `resource_exhausted` when this IP or account may not try now. */
  async check(ip: string, account: string): Promise<void> {
    const [ipFailures, lockTtl] = await this.#redis.execute(
      async (redis) => {
        const results = await redis
          .multi()
          .get(this.#key("ip", ip))
          .pttl(this.#key("lock", account))
          .exec();
        return [Number(results?.[0]?.[1] ?? 0), Number(results?.[1]?.[1] ?? -2)];
      },
      { idempotent: true },
    );
    if (lockTtl > 0) {
      throw tooMany(
        `too many failed sign-ins for this account; try again in ${Math.ceil(lockTtl / 1000)} s`,
        Math.ceil(lockTtl / 1000),
        "ACCOUNT_LOCKED",
      );
    }
    if ((ipFailures ?? 0) >= this.#limits.maxFailuresPerIp) {
      const ttl = await this.#redis.execute((r) => r.pttl(this.#key("ip", ip)), {
        idempotent: true,
      });
      throw tooMany(
        "too many failed sign-ins from this network; try again later",
        Math.max(1, Math.ceil(ttl / 1000)),
        "IP_THROTTLED",
      );
    }
  }

  /** Counts a failure; returns whether the account is locked now. */
  async failure(ip: string, account: string): Promise<{ locked: boolean; lockSeconds: number }> {
    const { windowSeconds, maxFailuresPerAccount, lockoutSeconds, maxLockoutSeconds } =
      this.#limits;
    return this.#redis.execute(async (redis) => {
      const results = await redis
        .multi()
        .incr(this.#key("ip", ip))
        .expire(this.#key("ip", ip), windowSeconds, "NX")
        .incr(this.#key("fail", account))
        .expire(this.#key("fail", account), windowSeconds, "NX")
        .exec();
      const accountFailures = Number(results?.[2]?.[1] ?? 0);
      if (accountFailures < maxFailuresPerAccount) return { locked: false, lockSeconds: 0 };
      const lockouts = await redis.incr(this.#key("lockouts", account));
      await redis.expire(this.#key("lockouts", account), 86_400);
      const lockSeconds = Math.min(maxLockoutSeconds, lockoutSeconds * 2 ** (lockouts - 1));
      await redis
        .multi()
        .set(this.#key("lock", account), "1", "EX", lockSeconds)
        .del(this.#key("fail", account))
        .exec();
      return { locked: true, lockSeconds };
    });
  }

  /** A success clears the account's failure count (not the IP's, nor its lockout history). */
  async success(account: string): Promise<void> {
    await this.#redis.execute((redis) => redis.del(this.#key("fail", account)), {
      idempotent: true,
    });
  }

  #key(kind: string, id: string): string {
    return `${this.#prefix}:${kind}:${id}`;
  }
}

function tooMany(message: string, retryAfterSeconds: number, reason: string): DomainError {
  return new DomainError("resource_exhausted", message, {
    reason,
    cause: new Error(`retry after ${retryAfterSeconds} s`),
  });
}
