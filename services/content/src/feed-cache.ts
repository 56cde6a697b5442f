import { createHash } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { onCommit } from "@kindred/database";
import { type ListFeedResponse, ListFeedResponseSchema } from "@kindred/proto/content/v1";
import type { ServiceKit } from "@kindred/service-kit";
import type { Transaction } from "kysely";

/** `@kindred/cache`'s Cache, as the service kit builds it. */
type Cache = ReturnType<ServiceKit["cache"]>;

/** One page of posts, as ListFeed and ListCirclePosts answer it. */
export type FeedPage = Pick<ListFeedResponse, "posts" | "nextPageToken">;

/** What shaped a page: everything that goes into its key and its tags. */
export interface FeedPageScope {
  method: "ListFeed" | "ListCirclePosts";
  viewerId: string;
  /** The circle filter, if any. */
  circleId: string | undefined;
  /** Every circle the page reads from (the filter, or all of the viewer's circles). */
  circles: readonly string[];
  pageSize: number;
  pageToken: string;
}

/** The changes a write or an event makes visible: whose pages must be read again. */
export interface FeedChange {
  circles?: Iterable<string>;
  users?: Iterable<string>;
}

/** A page as protobuf binary in base64: schema-aware, compact, and tolerant of new fields. */
const pageCodec = {
  encode: (value: unknown) =>
    Buffer.from(
      toBinary(ListFeedResponseSchema, create(ListFeedResponseSchema, value as FeedPage)),
    ).toString("base64"),
  decode: (text: string) => fromBinary(ListFeedResponseSchema, Buffer.from(text, "base64")),
};

export const circleTag = (circleId: string) => `circle:${circleId}`;
export const userTag = (userId: string) => `feed:user:${userId}`;

/**
 * Feed and circle-post pages in Redis (ADR 10, ADR 13), fail-soft: without Redis every read
 * goes to the database.
 *
 * - A page's key holds the method, viewer, filter, page size, page token and a digest of the
 *   circles it reads from, so a join or a leave changes the key by itself (the circle set is
 *   read from the projection on every call), and one key always has the same tags.
 * - Tags: `circle:<id>` for every circle read, `feed:user:<viewer>`. Writes of posts and
 *   responses invalidate their circle after commit; the projections invalidate circles and
 *   users (membership, roles, archive, blocks) after their inbox transaction commits.
 * - A cached page holding a post that has expired since is not served: the page is read from
 *   the database again and its circles invalidated, so expiry never waits for a TTL.
 */
export class FeedCache {
  readonly #cache: Cache;
  readonly #ttlSeconds: number;

  /** `ttlSeconds` 0 turns caching off (invalidations still go out, for other replicas). */
  constructor(options: { cache: Cache; ttlSeconds: number }) {
    this.#cache = options.cache;
    this.#ttlSeconds = options.ttlSeconds;
  }

  async page(scope: FeedPageScope, load: () => Promise<FeedPage>): Promise<FeedPage> {
    if (this.#ttlSeconds === 0) return load();
    const circles = [...scope.circles].sort();
    const digest = createHash("sha256")
      .update(circles.join(","))
      .update("\0")
      .update(scope.pageToken)
      .digest("base64url")
      .slice(0, 22);
    const key = [scope.method, scope.viewerId, scope.circleId ?? "*", scope.pageSize, digest].join(
      ":",
    );
    const tags = [...circles.map(circleTag), userTag(scope.viewerId)];
    const page = await this.#cache.getOrLoad(
      { key, tags, ttlSeconds: this.#ttlSeconds },
      load,
      pageCodec,
    );
    const now = Date.now();
    const expired = page.posts.filter(
      (post) => post.expiresAt !== undefined && timestampDate(post.expiresAt).getTime() <= now,
    );
    if (expired.length === 0) return page;
    await this.invalidate({ circles: expired.map((post) => post.circleId) });
    return load();
  }

  /** Makes the pages that depend on these circles and users unreachable; never throws. */
  async invalidate(change: FeedChange): Promise<void> {
    const tags = new Set([
      ...[...(change.circles ?? [])].map(circleTag),
      ...[...(change.users ?? [])].map(userTag),
    ]);
    await this.#cache.invalidate(...tags);
  }

  /** `invalidate` once `trx` has committed (never if it rolls back). */
  // biome-ignore lint/suspicious/noExplicitAny: any transaction of Database.transaction
  afterCommit(trx: Transaction<any>, change: FeedChange): void {
    onCommit(trx, () => this.invalidate(change));
  }
}
