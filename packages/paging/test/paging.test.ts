import { randomBytes } from "node:crypto";
import { DomainError } from "@kindred/errors";
import { describe, expect, it } from "vitest";
import {
  decodeKeyPosition,
  encodeKeyPosition,
  PageTokens,
  pageOf,
  pageSizeOf,
} from "../src/index.ts";

describe("PageTokens", () => {
  const tokens = new PageTokens(randomBytes(32));
  const position = { at: 1_764_000_000_123, id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10" };

  it("round-trips a position within its scope; empty means the first page", () => {
    const token = tokens.encode(position, "ListFeed:user=a");
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(tokens.decode(token, "ListFeed:user=a")).toEqual(position);
    expect(tokens.decode(tokens.encode({ at: "b", id: "x" }, "s"), "s")).toEqual({
      at: "b",
      id: "x",
    });
    expect(tokens.decode("", "ListFeed:user=a")).toBeUndefined();
  });

  it("refuses a token that was edited, made up, moved to another scope, or made with another key", () => {
    const token = tokens.encode(position, "ListFeed:user=a");
    const bytes = Buffer.from(token, "base64url");
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 1;
    const cases = [
      bytes.toString("base64url"),
      Buffer.from(JSON.stringify([1, "x"])).toString("base64url"),
      "garbage!",
      "AAAA",
      `${token}A`,
      new PageTokens(randomBytes(32)).encode(position, "ListFeed:user=a"),
    ];
    for (const bad of cases) {
      let error: unknown;
      try {
        tokens.decode(bad, "ListFeed:user=a");
      } catch (err) {
        error = err;
      }
      expect(error, bad).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe("invalid_argument");
      expect((error as DomainError).message).toBe("page_token is not a token this method returned");
    }
    expect(() => tokens.decode(token, "ListFeed:user=b")).toThrow(DomainError);
  });

  it("needs a real key", () => {
    expect(() => new PageTokens(Buffer.alloc(8))).toThrow("256 bits");
  });
});

describe("page sizes and pages", () => {
  it("uses the default for 0 and caps at the maximum", () => {
    expect(pageSizeOf(0)).toBe(20);
    expect(pageSizeOf(5)).toBe(5);
    expect(pageSizeOf(500)).toBe(100);
    expect(pageSizeOf(0, { defaultSize: 50, maxSize: 200 })).toBe(50);
  });

  it("splits size + 1 fetched rows into a page and a next-page marker", () => {
    expect(pageOf([1, 2, 3], 2)).toEqual({ rows: [1, 2], last: 2 });
    expect(pageOf([1, 2], 2)).toEqual({ rows: [1, 2], last: undefined });
    expect(pageOf([], 2)).toEqual({ rows: [], last: undefined });
  });
});

describe("key positions", () => {
  const tokens = new PageTokens(randomBytes(32));

  it("round-trip several numeric keys and an id", () => {
    const position = { keys: [4, 1764147600123], id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10" };
    const token = encodeKeyPosition(tokens, position, "ListQueue:u");
    expect(decodeKeyPosition(tokens, token, "ListQueue:u", 2)).toEqual(position);
    expect(encodeKeyPosition(tokens, undefined, "ListQueue:u")).toBe("");
    expect(decodeKeyPosition(tokens, "", "ListQueue:u", 2)).toBeUndefined();
  });

  it("refuse a token with another number of keys or a malformed id", () => {
    const token = tokens.encode({ at: "4", id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10" }, "s");
    expect(() => decodeKeyPosition(tokens, token, "s", 2)).toThrow(/page_token/);
    const badId = tokens.encode({ at: "4|5", id: "not-a-uuid" }, "s");
    expect(() => decodeKeyPosition(tokens, badId, "s", 2)).toThrow(/page_token/);
  });
});
