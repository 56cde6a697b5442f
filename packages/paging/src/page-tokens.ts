import { createHmac, timingSafeEqual } from "node:crypto";
import { DomainError } from "@kindred/errors";

/**
 * Where the next page starts: the sort key of the last row returned (`at`, a number such as a
 * timestamp in ms, or a string) and its id, the tie-breaker.
 */
export interface KeysetPosition {
  at: number | string;
  id: string;
}

const macBytes = 16;
const forged = () =>
  new DomainError("invalid_argument", "page_token is not a token this method returned", {
    reason: "INVALID_PAGE_TOKEN",
  });

/**
 * Page tokens that clients cannot forge or move between queries: the position, plus an
 * HMAC-SHA-256 (truncated to 128 bits) over the position and the query's `scope` — the method
 * and every filter that shaped the result (`"ListFeed:circle=…"`). A token that was edited,
 * made up, or taken from another method, filter or user is refused with `invalid_argument`.
 * Tokens are opaque base64url; their contents are not a contract.
 */
export class PageTokens {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new TypeError("PageTokens needs a key of at least 256 bits");
    this.#key = key;
  }

  encode(position: KeysetPosition, scope: string): string {
    const body = Buffer.from(JSON.stringify([position.at, position.id]));
    return Buffer.concat([this.#mac(body, scope), body]).toString("base64url");
  }

  /** The position of a token, `undefined` for an empty one (the first page). */
  decode(token: string, scope: string): KeysetPosition | undefined {
    if (token === "") return undefined;
    const bytes = Buffer.from(token, "base64url");
    if (bytes.length <= macBytes || bytes.toString("base64url") !== token) throw forged();
    const mac = bytes.subarray(0, macBytes);
    const body = bytes.subarray(macBytes);
    if (!timingSafeEqual(mac, this.#mac(body, scope))) throw forged();
    const value = JSON.parse(body.toString("utf8")) as unknown;
    if (
      !Array.isArray(value) ||
      value.length !== 2 ||
      !(typeof value[0] === "number" || typeof value[0] === "string") ||
      typeof value[1] !== "string"
    ) {
      throw forged();
    }
    return { at: value[0], id: value[1] };
  }

  #mac(body: Buffer, scope: string): Buffer {
    return createHmac("sha256", this.#key)
      .update(scope)
      .update("\0")
      .update(body)
      .digest()
      .subarray(0, macBytes);
  }
}
