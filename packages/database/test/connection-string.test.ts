import pg from "pg";
import { describe, expect, it } from "vitest";
import { quoteIdentifier, withPassword } from "../src/connection-string.ts";

describe("withPassword", () => {
  it("replaces the URL's password, surviving characters URLs treat specially", () => {
    const secret = "p@ss:w/o%rd#?& é";
    const url = withPassword("postgres://kindred:old@db.internal:5432/kindred_circles", secret);
    // Parsed the way the pool will parse it.
    const parsed = new pg.Client({ connectionString: url });
    expect(parsed.password).toBe(secret);
    expect(parsed.user).toBe("kindred");
    expect(parsed.database).toBe("kindred_circles");
  });

  it("leaves the URL alone without a password", () => {
    const url = "postgres://kindred@db.internal/kindred_circles";
    expect(withPassword(url, undefined)).toBe(url);
  });
});

describe("quoteIdentifier", () => {
  it("doubles embedded quotes", () => {
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
  });
});
