import { DependencyUnavailableError } from "@kindred/errors";
import { describe, expect, it } from "vitest";
import { HealthCheckError, rootCauseMessage } from "../src/index.ts";

describe("HealthCheckError", () => {
  it("names the dependency and the innermost cause, not the generic wrapper", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5999"), {
      code: "ECONNREFUSED",
    });
    const wrapped = new DependencyUnavailableError("postgres", {
      cause: new Error("postgres circuit is open after repeated failures", { cause: refused }),
    });
    const err = new HealthCheckError("postgres", wrapped);
    expect(err.message).toBe("postgres health check failed: connect ECONNREFUSED 127.0.0.1:5999");
    expect(err.dependency).toBe("postgres");
    expect(err.cause).toBe(wrapped);
  });

  it("describes an AggregateError without a message by its inner errors", () => {
    const aggregate = new AggregateError([
      new Error("connect ECONNREFUSED ::1:6379"),
      new Error("connect ECONNREFUSED 127.0.0.1:6379"),
    ]);
    expect(rootCauseMessage(aggregate)).toBe(
      "connect ECONNREFUSED ::1:6379; connect ECONNREFUSED 127.0.0.1:6379",
    );
  });

  it("describes values that are not errors", () => {
    expect(rootCauseMessage("boom")).toBe("boom");
    expect(rootCauseMessage(undefined)).toBe("unknown error");
  });
});
