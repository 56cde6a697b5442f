import { describe, expect, it } from "vitest";
import type { MatchResult } from "../../src/rules/types.ts";
import { combineVerdict } from "../../src/rules/verdict.ts";

const match = (overrides: Partial<MatchResult>): MatchResult => ({
  ruleId: "r",
  severity: "low",
  outcome: "allow",
  reason: "other",
  detail: "d",
  ...overrides,
});

describe("combineVerdict", () => {
  it("takes the strongest outcome and the highest severity", () => {
    const verdict = combineVerdict(
      [
        match({ ruleId: "a", outcome: "flag", severity: "medium", reason: "spam" }),
        match({ ruleId: "b", outcome: "hide", severity: "low", reason: "spam" }),
        match({ ruleId: "c", outcome: "allow", severity: "high", reason: "harassment" }),
      ],
      "fp",
    );
    expect(verdict).toMatchObject({
      outcome: "hide",
      severity: "high",
      reason: "harassment",
      priority: "high",
      fingerprint: "fp",
    });
    expect(verdict.matches.map((m) => m.ruleId)).toEqual(["c", "a", "b"]);
  });

  it.each([
    ["low", "low"],
    ["medium", "normal"],
    ["high", "high"],
    ["critical", "critical"],
  ] as const)("maps severity %s to priority %s", (severity, priority) => {
    expect(combineVerdict([match({ severity, outcome: "flag" })], "fp").priority).toBe(priority);
  });

  it("gives any self-harm match critical priority, and its reason on ties", () => {
    const verdict = combineVerdict(
      [
        match({ ruleId: "spam", reason: "spam", severity: "low", outcome: "flag" }),
        match({ ruleId: "classifier", reason: "self_harm", severity: "low", outcome: "allow" }),
      ],
      "fp",
    );
    expect(verdict).toMatchObject({ outcome: "flag", reason: "self_harm", priority: "critical" });
    expect(verdict.matches[0]?.ruleId).toBe("classifier");
  });

  it("merges a classifier's matches with the engine's", () => {
    const engine = [match({ ruleId: "link", reason: "spam", severity: "medium", outcome: "hide" })];
    const classifier = [
      match({ ruleId: "ml:self-harm", reason: "self_harm", severity: "high", outcome: "flag" }),
    ];
    const verdict = combineVerdict([...engine, ...classifier], "fp");
    expect(verdict).toMatchObject({ outcome: "flag", severity: "high", reason: "self_harm" });
    expect(verdict.priority).toBe("critical");
  });

  it("hides self-harm content only when a self-harm rule says so", () => {
    const verdict = combineVerdict(
      [match({ reason: "self_harm", severity: "critical", outcome: "hide" })],
      "fp",
    );
    expect(verdict.outcome).toBe("hide");
  });

  it("is none without matches", () => {
    expect(combineVerdict([], "fp")).toEqual({ matches: [], outcome: "none", fingerprint: "fp" });
  });
});
