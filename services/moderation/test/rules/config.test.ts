import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseRulesConfig, parseRulesJson, RulesConfigError } from "../../src/rules/config.ts";
import { defaultRulesPath } from "../../src/rules/default-rules.ts";
import { RulesEngine } from "../../src/rules/engine.ts";
import { hasNestedQuantifier } from "../../src/rules/safe-regex.ts";
import { fakeSignals, input, secondsBefore } from "./fakes.ts";

const fields = { id: "b", reason: "spam", severity: "low", outcome: "flag" };
const bank = { ...fields, terms: ["x"] };

/** The issues of an invalid configuration, as "path: message". */
function issuesOf(raw: unknown): string[] {
  try {
    parseRulesConfig(raw, "test.json");
  } catch (err) {
    expect(err).toBeInstanceOf(RulesConfigError);
    return (err as RulesConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error("expected the configuration to be rejected");
}

describe("rules file validation", () => {
  it("accepts a minimal file with defaults", () => {
    const config = parseRulesConfig({ version: 1 });
    expect(config).toMatchObject({
      banks: [],
      regexes: [],
      links: { deniedDomains: [] },
      spam: {},
    });
    expect(Object.isFrozen(config.links)).toBe(true);
  });

  it("names the path of each bad field", () => {
    const issues = issuesOf({
      version: 1,
      banks: [bank, { ...bank, id: "c", severity: "severe", terms: ["ok", "  !! "] }],
      links: { tooMany: { ...fields, id: "links", max: -1 } },
      spam: { burst: { ...fields, id: "burst", max: 5 } },
    });
    expect(issues).toEqual([
      expect.stringMatching(/^banks\[1\]\.severity: /),
      "banks[1].terms[1]: must contain a letter or digit",
      expect.stringMatching(/^links\.tooMany\.max: /),
      expect.stringMatching(/^spam\.burst\.windowSeconds: /),
    ]);
  });

  it("rejects unknown fields, so a typo cannot disable a rule", () => {
    expect(issuesOf({ version: 1, bank: [] })).toEqual([
      expect.stringMatching(/^\(file\): .*bank/),
    ]);
    expect(issuesOf({ version: 1, banks: [{ ...bank, outcomes: "hide" }] })).toEqual([
      expect.stringMatching(/^banks\[0\]: .*outcomes/),
    ]);
  });

  it("rejects repeated rule ids", () => {
    const issues = issuesOf({
      version: 1,
      banks: [bank],
      newAccounts: { maxAgeSeconds: 60, items: fields },
    });
    expect(issues).toEqual(['newAccounts.items.id: repeats the rule id "b"']);
  });

  it("rejects another version and an unknown reason", () => {
    expect(issuesOf({ version: 2 })).toEqual([expect.stringMatching(/^version: /)]);
    expect(issuesOf({ version: 1, banks: [{ ...bank, reason: "rude" }] })).toEqual([
      expect.stringMatching(/^banks\[0\]\.reason: /),
    ]);
  });

  it("rejects bad domains", () => {
    const denied = { ...fields, domains: ["bit.ly", "https://x.com/"] };
    expect(issuesOf({ version: 1, links: { deniedDomains: [denied] } })).toEqual([
      'links.deniedDomains[0].domains[1]: must be a domain name such as "example.com"',
    ]);
  });

  it("reports a file that is not JSON", () => {
    expect(() => parseRulesJson("{ nope", "rules.json")).toThrow(
      /^invalid rules in rules\.json: \(file\): is not valid JSON/,
    );
  });
});

describe("regex safety", () => {
  const regex = (pattern: string, flags?: string) => ({
    version: 1,
    regexes: [{ id: "r", reason: "spam", severity: "low", outcome: "flag", pattern, flags }],
  });

  it("rejects patterns that do not compile, are too long, or use stateful flags", () => {
    expect(issuesOf(regex("(unclosed"))).toEqual([
      expect.stringMatching(/^regexes\[0\]\.pattern: does not compile/),
    ]);
    expect(issuesOf(regex("a".repeat(501)))).toEqual([
      "regexes[0].pattern: is longer than 500 characters",
    ]);
    expect(issuesOf(regex("a", "g"))).toEqual([
      "regexes[0].pattern: may only use the flags i, m, s, u and v",
    ]);
  });

  it.each(["(a+)+$", "(\\w*\\s?)*x", "(?:a|b+){2,}", "((ab)*c)+", "(x+y?)*"])(
    "rejects the nested quantifier in %s",
    (pattern) => {
      expect(hasNestedQuantifier(pattern)).toBe(true);
      expect(issuesOf(regex(pattern))).toEqual([
        expect.stringMatching(/catastrophic backtracking/),
      ]);
    },
  );

  it.each([
    "(\\d[ -]?){7,15}",
    "\\b\\d{3}[ -]?\\d{4}\\b",
    "(ab)+c*",
    "[(a+)]+",
    "\\(a+\\)+",
    "(?:https?://)?\\S+",
  ])("accepts %s", (pattern) => {
    expect(hasNestedQuantifier(pattern)).toBe(false);
    expect(() => parseRulesConfig(regex(pattern))).not.toThrow();
  });
});

describe("the default rules file", () => {
  const engine = RulesEngine.fromJson(
    JSON.parse(readFileSync(defaultRulesPath(), "utf8")),
    defaultRulesPath(),
  );
  const evaluate = (body: string, createdAt?: Date) =>
    engine.evaluate(input(body), fakeSignals({ createdAt }).signals);

  it("loads", () => {
    expect(engine.config.banks.map((b) => b.id)).toContain("self-harm-intent");
  });

  it("flags a person in crisis at critical priority, and keeps them visible", async () => {
    const verdict = await evaluate("i just want to d1e... bit.ly/goodbye");
    expect(verdict).toMatchObject({ outcome: "flag", reason: "self_harm", priority: "critical" });
    expect(verdict.matches.map((m) => m.ruleId)).toEqual(["self-harm-intent", "url-shortener"]);
  });

  it("hides shortened links, flags threats and links from new accounts", async () => {
    expect(await evaluate("free stuff at tinyurl.com/abc")).toMatchObject({ outcome: "hide" });
    expect(await evaluate("I'm going to kill you")).toMatchObject({
      outcome: "flag",
      reason: "violence",
      priority: "high",
    });
    const fresh = await evaluate("my blog: example.com", secondsBefore(60));
    expect(fresh.matches.map((m) => m.ruleId)).toEqual(["new-account-link"]);
  });

  it("leaves ordinary support alone", async () => {
    const verdict = await evaluate(
      "I hear you. It takes real skill to get through a week like that; I'm proud of you.",
    );
    expect(verdict.outcome).toBe("none");
  });
});
