import { describe, expect, it } from "vitest";
import { isPostgresOutage, isTransientPostgresError } from "../src/index.ts";

const withCode = (code: string, message = "pg error") =>
  Object.assign(new Error(message), { code });

describe("transient PostgreSQL errors", () => {
  it.each([
    ["connection refused", withCode("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")],
    ["connection reset", withCode("ECONNRESET")],
    ["admin shutdown", withCode("57P01", "terminating connection due to administrator command")],
    ["connection exception class", withCode("08006")],
    ["too many connections", withCode("53300")],
    ["terminated", new Error("Connection terminated unexpectedly")],
    ["pool connect timeout", new Error("timeout exceeded when trying to connect")],
    ["connect timeout", new Error("Connection terminated due to connection timeout")],
    ["dual-stack refusal", new AggregateError([withCode("ECONNREFUSED")])],
  ])("%s is an outage, and transient", (_, err) => {
    expect(isPostgresOutage(err)).toBe(true);
    expect(isTransientPostgresError(err)).toBe(true);
  });

  it.each([
    ["serialization failure", withCode("40001")],
    ["deadlock", withCode("40P01")],
  ])("%s is transient but not an outage", (_, err) => {
    expect(isTransientPostgresError(err)).toBe(true);
    expect(isPostgresOutage(err)).toBe(false);
  });

  it.each([
    ["unique violation", withCode("23505")],
    ["statement timeout", withCode("57014")],
    ["syntax error", withCode("42601")],
    ["a plain error", new Error("boom")],
    ["not an error", "ECONNRESET"],
  ])("%s is neither", (_, err) => {
    expect(isTransientPostgresError(err)).toBe(false);
    expect(isPostgresOutage(err)).toBe(false);
  });
});
