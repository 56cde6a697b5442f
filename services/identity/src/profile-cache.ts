import { type Cache, taggedJsonCodec } from "@kindred/cache";
import { onCommit } from "@kindred/database";
import type { Transaction } from "kysely";
import type { IdentityDatabase } from "./db/schema.ts";
import type { UserRow } from "./users.ts";

/** The columns of a public profile: all that GetUser shows, and all that Redis holds. */
export type ProfileRow = Pick<UserRow, "id" | "display_name" | "bio" | "created_at">;

/** What every cached answer about one user depends on. */
export const userTag = (userId: string) => `user:${userId.toLowerCase()}`;

/**
 * Public profiles in Redis (ADR 10), invalidated by the `user:<id>` tag once a change to the
 * profile commits. Fail-soft: Redis failures fall back to the loader (the database), unlike the
 * login limiter on the same client, which fails closed.
 */
export class ProfileCache {
  readonly #cache: Cache;
  readonly #ttlSeconds: number;

  constructor(cache: Cache, ttlSeconds: number) {
    this.#cache = cache;
    this.#ttlSeconds = ttlSeconds;
  }

  /** A live account's public profile; `load` throws for an unknown one (errors are not cached). */
  get(userId: string, load: () => Promise<ProfileRow>): Promise<ProfileRow> {
    const id = userId.toLowerCase();
    return this.#cache.getOrLoad(
      { key: id, tags: [userTag(id)], ttlSeconds: this.#ttlSeconds },
      load,
      taggedJsonCodec,
    );
  }

  /**
   * Once `trx` commits, makes the next read of the user's profile fresh: for every change to
   * the display name, the bio or whether the account exists. A failed invalidation is logged
   * by the cache; the entry then lives out its TTL.
   */
  invalidateOnCommit(trx: Transaction<IdentityDatabase>, userId: string): void {
    onCommit(trx, async () => {
      await this.#cache.invalidate(userTag(userId));
    });
  }
}
