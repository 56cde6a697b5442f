import { describe, expect, it } from "vitest";
import { DependencyUnavailableError, DomainError, isDomainError } from "../src/index.ts";

describe("DomainError", () => {
  it("carries a code, a safe message, a reason and an internal cause", () => {
    const cause = new Error("duplicate key value violates unique constraint circles_name_key");
    const err = new DomainError("already_exists", "a circle with that name exists", {
      reason: "CIRCLE_NAME_TAKEN",
      cause,
    });
    expect(err).toMatchObject({ code: "already_exists", reason: "CIRCLE_NAME_TAKEN", cause });
    expect(err.message).toBe("a circle with that name exists");
    expect(isDomainError(err)).toBe(true);
    expect(isDomainError(cause)).toBe(false);
  });

  it("says only that a dependency is unavailable, keeping which and why internal", () => {
    const err = new DependencyUnavailableError("postgres", {
      cause: new Error("ECONNREFUSED 10.0.0.7:5432"),
    });
    expect(err.code).toBe("unavailable");
    expect(err.dependency).toBe("postgres");
    expect(err.message).toBe("the service is temporarily unavailable, retry later");
    expect(err).toBeInstanceOf(DomainError);
  });
});
