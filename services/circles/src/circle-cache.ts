import { createHash } from "node:crypto";
import { type Cache, taggedJsonCodec } from "@kindred/cache";
import { onCommit } from "@kindred/database";
import type { Transaction } from "kysely";
import type { Caller, Standing } from "./access.ts";
import type { CircleRoleName, CirclesDatabase } from "./db/schema.ts";
import type { CircleRow } from "./mapping.ts";

/** What every cached answer about one circle depends on: settings, counts, membership. */
export const circleTag = (circleId: string) => `circle:${circleId.toLowerCase()}`;
/** Which circles a user belongs to, and since when (the order of their list). */
export const memberOfTag = (userId: string) => `circles:user:${userId.toLowerCase()}`;

/**
 * One page of a user's circles, as ids: which circles, in which order, and where the next page
 * starts (`null` on the last page). Positions, not page tokens: tokens are signed per read.
 */
export interface MembershipPage {
  circleIds: string[];
  next: { joinedAt: number; circleId: string } | null;
}

/** A standing as stored: JSON has no `undefined`, and the caller is never stored. */
interface StoredStanding {
  circle: CircleRow;
  role: CircleRoleName | null;
}

/**
 * GetCircle and ListMyCircles reads in Redis (ADR 10), invalidated by tag once a change commits.
 * It holds data, never decisions: callers apply the access rules to what it returns, on every
 * read. Redis failures fall back to the loaders (the database), never to errors.
 */
export class CircleCache {
  readonly #standings: Cache;
  readonly #lists: Cache;
  readonly #rows: Cache;
  readonly #ttlSeconds: number;

  constructor(caches: { standings: Cache; lists: Cache; rows: Cache }, ttlSeconds: number) {
    this.#standings = caches.standings;
    this.#lists = caches.lists;
    this.#rows = caches.rows;
    this.#ttlSeconds = ttlSeconds;
  }

  /**
   * The circle and the caller's role in it, for reads. Keyed by circle and user id only:
   * whether the caller is platform staff comes from the current token, not from the cache.
   * `load` throws for an unknown circle; errors are not cached.
   */
  async standing(caller: Caller, circleId: string, load: () => Promise<Standing>) {
    const id = circleId.toLowerCase();
    const stored = await this.#standings.getOrLoad<StoredStanding>(
      { key: `${id}:${caller.userId}`, tags: [circleTag(id)], ttlSeconds: this.#ttlSeconds },
      async () => {
        const { circle, role } = await load();
        return { circle, role: role ?? null };
      },
      taggedJsonCodec,
    );
    return { caller, circle: stored.circle, role: stored.role ?? undefined } satisfies Standing;
  }

  /**
   * One page of `userId`'s circle ids; `page` names the page (size and position). Tagged with
   * the user's memberships only: the circles' own data comes from `circles`.
   */
  memberships(
    userId: string,
    page: string,
    load: () => Promise<MembershipPage>,
  ): Promise<MembershipPage> {
    return this.#lists.getOrLoad(
      { key: `${userId}:${page}`, tags: [memberOfTag(userId)], ttlSeconds: this.#ttlSeconds },
      load,
    );
  }

  /**
   * The rows of these circles, in the order `load` gives them, as one entry tagged with each
   * circle. Keyed by the ids themselves, so the tags of a key never change.
   */
  async circles(circleIds: readonly string[], load: () => Promise<CircleRow[]>) {
    if (circleIds.length === 0) return [];
    const ids = circleIds.map((id) => id.toLowerCase());
    const key = createHash("sha256").update(ids.join(",")).digest("base64url");
    return this.#rows.getOrLoad<CircleRow[]>(
      { key, tags: ids.map(circleTag), ttlSeconds: this.#ttlSeconds },
      load,
      taggedJsonCodec,
    );
  }

  /**
   * Once `trx` commits, makes the next read of the circle fresh (GetCircle and every list page
   * that shows it), and of the lists of `memberIds`, whose membership changed. A failed
   * invalidation is logged by the cache; the entries then live out their TTL.
   */
  invalidateOnCommit(
    trx: Transaction<CirclesDatabase>,
    circleId: string,
    ...memberIds: string[]
  ): void {
    const tags = [circleTag(circleId), ...memberIds.map(memberOfTag)];
    onCommit(trx, async () => {
      await this.#standings.invalidate(...tags);
    });
  }
}
