import { DomainError } from "@kindred/errors";
import type { PageTokens } from "@kindred/paging";
import { type RawBuilder, type SqlBool, sql } from "kysely";

/**
 * Keyset pages over `(created_at, id)`. The position keeps PostgreSQL's full microsecond
 * precision as text (a JS Date would round to milliseconds and skip rows created within the
 * same millisecond as a page's last row).
 */
export interface Position {
  /** `created_at` in UTC with microseconds: `2026-11-25T12:00:00.123456Z`. */
  at: string;
  id: string;
}

const atPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Select this as `cursor_at` next to a row to build its position. */
export const cursorAt = (column: string): RawBuilder<string> =>
  sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The position a request's page token names (`undefined` for the first page). */
export function decodePosition(
  tokens: PageTokens,
  token: string,
  scope: string,
): Position | undefined {
  const position = tokens.decode(token, scope);
  if (position === undefined) return undefined;
  if (typeof position.at !== "string" || !atPattern.test(position.at)) throw forged();
  if (!uuidPattern.test(position.id)) throw forged();
  return { at: position.at, id: position.id };
}

export function encodePosition(
  tokens: PageTokens,
  row: { cursor_at: string; id: string } | undefined,
  scope: string,
): string {
  return row === undefined ? "" : tokens.encode({ at: row.cursor_at, id: row.id }, scope);
}

/** Rows strictly after `p` in newest-first order. */
export const olderThan = (createdAt: string, id: string, p: Position) =>
  sql<SqlBool>`(${sql.ref(createdAt)}, ${sql.ref(id)}) < (${p.at}::timestamptz, ${p.id}::uuid)`;

/** Rows strictly after `p` in oldest-first order. */
export const newerThan = (createdAt: string, id: string, p: Position) =>
  sql<SqlBool>`(${sql.ref(createdAt)}, ${sql.ref(id)}) > (${p.at}::timestamptz, ${p.id}::uuid)`;

const forged = () =>
  new DomainError("invalid_argument", "page_token is not a token this method returned", {
    reason: "INVALID_PAGE_TOKEN",
  });
