import { DomainError } from "@kindred/errors";
import type { PageTokens } from "./page-tokens.ts";

/**
 * Keyset positions of several numeric sort keys (a rank, a time in ms) and the id tie-breaker.
 * The keys travel as text in the signed token's `at` (`"1|1764147600123"`); their format is
 * checked again on the way back in, although the signature already vouches for them.
 */
export interface KeyPosition {
  keys: number[];
  id: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const forged = () =>
  new DomainError("invalid_argument", "page_token is not a token this method returned", {
    reason: "INVALID_PAGE_TOKEN",
  });

/** The position a request's page token names (`undefined` for the first page). */
export function decodeKeyPosition(
  tokens: PageTokens,
  token: string,
  scope: string,
  keyCount: number,
): KeyPosition | undefined {
  const position = tokens.decode(token, scope);
  if (position === undefined) return undefined;
  if (typeof position.at !== "string" || !uuidPattern.test(position.id)) throw forged();
  const parts = position.at.split("|");
  if (parts.length !== keyCount || parts.some((p) => !/^\d{1,15}$/.test(p))) throw forged();
  return { keys: parts.map(Number), id: position.id };
}

/** The next page's token: empty when `last` is undefined (no more rows). */
export function encodeKeyPosition(
  tokens: PageTokens,
  last: KeyPosition | undefined,
  scope: string,
): string {
  return last === undefined ? "" : tokens.encode({ at: last.keys.join("|"), id: last.id }, scope);
}
