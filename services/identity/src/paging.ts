import { DomainError } from "@kindred/errors";

/** A keyset position: the sort key of the last row returned and its id as tie-breaker. */
export interface PagePosition {
  at: number;
  id: string;
}

export const defaultPageSize = 20;

export function pageSizeOf(requested: number): number {
  return requested === 0 ? defaultPageSize : requested;
}

/** Opaque to clients (base64url JSON); stable under inserts because it is a keyset, not an offset. */
export function encodePageToken(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString("base64url");
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function decodePageToken(token: string): PagePosition | undefined {
  if (token === "") return undefined;
  try {
    const value = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === "string" &&
      uuidPattern.test(value[1])
    ) {
      return { at: value[0] as number, id: value[1] };
    }
  } catch {
    // falls through to the client-safe error
  }
  throw new DomainError("invalid_argument", "page_token is not a token this method returned");
}
