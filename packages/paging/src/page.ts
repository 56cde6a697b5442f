export interface PageSizeLimits {
  /** Used when the request says 0 (unset). */
  defaultSize?: number;
  /** The largest page; requests are validated against it at the edge (protovalidate). */
  maxSize?: number;
}

/** The page size to use: the request's, or the default for 0; never above the maximum. */
export function pageSizeOf(requested: number, limits: PageSizeLimits = {}): number {
  const { defaultSize = 20, maxSize = 100 } = limits;
  if (requested <= 0) return defaultSize;
  return Math.min(requested, maxSize);
}

export interface PageOf<Row> {
  rows: Row[];
  /** The last row of the page when there is a next page, else `undefined`. */
  last: Row | undefined;
}

/**
 * Splits the `size + 1` rows a keyset query fetched into this page and whether there is more:
 * the extra row only says that a next page exists.
 */
export function pageOf<Row>(fetched: readonly Row[], size: number): PageOf<Row> {
  const rows = fetched.slice(0, size);
  return { rows, last: fetched.length > size ? rows.at(-1) : undefined };
}
