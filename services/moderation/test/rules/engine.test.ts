import { describe, expect, it } from "vitest";
import { RulesEngine } from "../../src/rules/engine.ts";
import { fingerprint } from "../../src/rules/scanned-text.ts";
import { fakeSignals, input, matchedIds, now, secondsBefore } from "./fakes.ts";

const rule = (id: string, outcome = "flag", severity = "medium", reason = "spam") => ({
  id,
  reason,
  severity,
  outcome,
});

describe("regex rules", () => {
  const engine = RulesEngine.fromJson({
    version: 1,
    regexes: [
      { ...rule("phone", "allow", "low", "other"), pattern: "\\b\\d{3}[ -]?\\d{4}\\b" },
      { ...rule("wallet"), pattern: "\\b0x[0-9a-f]{40}\\b", flags: "i" },
      { ...rule("shouting", "allow", "low", "other"), pattern: "buy now", normalized: true },
    ],
  });

  it("match the body and quote what they matched", async () => {
    const verdict = await engine.evaluate(
      input("call me on 555-1234 today"),
      fakeSignals().signals,
    );
    expect(verdict.matches).toEqual([
      {
        ruleId: "phone",
        severity: "low",
        outcome: "allow",
        reason: "other",
        detail: 'matched "555-1234"',
      },
    ]);
    expect(verdict.outcome).toBe("allow");
    expect(await matchedIds(engine, `send to 0x${"AB".repeat(20)}`)).toEqual(["wallet"]);
    expect(await matchedIds(engine, "nothing to see")).toEqual([]);
  });

  it("run on the normalized text when asked", async () => {
    expect(await matchedIds(engine, "ＢＵＹ\u200b NÓW")).toEqual(["shouting"]);
  });

  it("read only the first 10 000 characters", async () => {
    expect(await matchedIds(engine, `${"x".repeat(10_000)} 555-1234`)).toEqual([]);
    expect(await matchedIds(engine, `${"x".repeat(9_000)} 555-1234`)).toEqual(["phone"]);
  });
});

describe("link rules", () => {
  const engine = RulesEngine.fromJson({
    version: 1,
    links: {
      deniedDomains: [{ ...rule("shortener", "hide"), domains: ["bit.ly", "tinyurl.com"] }],
      tooMany: { ...rule("too-many-links"), max: 2 },
    },
  });

  it.each([
    "see https://bit.ly/abc",
    "see http://www.BIT.LY/abc?x=1",
    "see bit.ly/abc",
    "see go.bit.ly/abc",
    "see bit[.]ly/abc",
    "see bit(dot)ly/abc",
    "see [here](https://tinyurl.com/x).",
    "see bіt.ly/abc with a Cyrillic і",
    "see hxxps://bit.ly/abc",
  ])("deny a domain: %j", async (body) => {
    expect(await matchedIds(engine, body)).toEqual(["shortener"]);
  });

  it.each([
    "see notbit.ly.example.org/abc",
    "see rabbit.lyrics",
    "mail me at me@bit.ly",
    "node.js and e.g. this; it.so goes",
  ])("do not deny other text: %j", async (body) => {
    expect(await matchedIds(engine, body)).toEqual([]);
  });

  it("count links", async () => {
    expect(await matchedIds(engine, "a.com and https://b.org/x")).toEqual([]);
    const verdict = await engine.evaluate(
      input("a.com, https://b.org/x and www.c.net"),
      fakeSignals().signals,
    );
    expect(verdict.matches.map((m) => [m.ruleId, m.detail])).toEqual([
      ["too-many-links", "3 links (at most 2)"],
    ]);
  });

  it("describe the denied link", async () => {
    const verdict = await engine.evaluate(input("https://bit.ly/abc"), fakeSignals().signals);
    expect(verdict.matches[0]?.detail).toBe(
      'links to denied domain "bit.ly": "https://bit.ly/abc"',
    );
    expect(verdict.outcome).toBe("hide");
  });
});

describe("spam heuristics", () => {
  const engine = RulesEngine.fromJson({
    version: 1,
    spam: {
      burst: { ...rule("burst"), max: 3, windowSeconds: 60 },
      duplicates: { ...rule("duplicate", "hide"), max: 2, windowSeconds: 3600, minChars: 10 },
    },
  });
  const body = "Check out my amazing offer";
  const same = fingerprint(body);
  const other = fingerprint("something else entirely");

  it("flag more than max items in the window", async () => {
    const three = [10, 20, 30].map((s) => ({ at: secondsBefore(s), fingerprint: other }));
    const { signals, calls } = fakeSignals({ items: three });
    const verdict = await engine.evaluate(input(body), signals);
    expect(verdict.matches.map((m) => [m.ruleId, m.detail])).toEqual([
      ["burst", "4 items in 60 s (at most 3)"],
    ]);
    expect(calls.map((c) => c.since?.getTime())).toEqual([
      secondsBefore(60).getTime(),
      secondsBefore(3600).getTime(),
    ]);
  });

  it("do not count items outside the window", async () => {
    const old = [10, 20, 90].map((s) => ({ at: secondsBefore(s), fingerprint: other }));
    expect(
      (await engine.evaluate(input(body), fakeSignals({ items: old }).signals)).matches,
    ).toEqual([]);
  });

  it("catch the same text written differently", async () => {
    expect(fingerprint("CHECK out my   amaaazing 0ffer!!!")).toBe(same);
    expect(fingerprint("check out my amazing offers")).not.toBe(same);
    const items = [100, 2000].map((s) => ({ at: secondsBefore(s), fingerprint: same }));
    const verdict = await engine.evaluate(input(body), fakeSignals({ items }).signals);
    expect(verdict.matches.map((m) => [m.ruleId, m.detail])).toEqual([
      ["duplicate", "same text 3 times in 60 min (at most 2)"],
    ]);
    expect(verdict.outcome).toBe("hide");
  });

  it("allow max duplicates, and ignore short texts", async () => {
    const once = [{ at: secondsBefore(100), fingerprint: same }];
    expect(
      (await engine.evaluate(input(body), fakeSignals({ items: once }).signals)).matches,
    ).toEqual([]);
    const short = fingerprint("thank you");
    const items = [1000, 2000, 3000].map((s) => ({ at: secondsBefore(s), fingerprint: short }));
    expect(
      (await engine.evaluate(input("thank you"), fakeSignals({ items }).signals)).matches,
    ).toEqual([]);
  });

  it("give emoji-only texts their own fingerprints", () => {
    expect(fingerprint("❤️")).not.toBe(fingerprint("🙏"));
    expect(fingerprint("❤️")).toBe(fingerprint(" ❤ "));
    expect(fingerprint("hello")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("ask nothing when no rule needs it", async () => {
    const plain = RulesEngine.fromJson({ version: 1 });
    const { signals, calls } = fakeSignals({ createdAt: now });
    expect(await plain.evaluate(input("hi https://x.com"), signals)).toMatchObject({
      outcome: "none",
    });
    expect(calls).toEqual([]);
  });
});

describe("new-account rules", () => {
  const engine = RulesEngine.fromJson({
    version: 1,
    newAccounts: {
      maxAgeSeconds: 86_400,
      links: rule("new-account-link", "flag", "low"),
      items: rule("new-account", "allow", "low", "other"),
    },
  });

  it("apply to accounts younger than maxAgeSeconds", async () => {
    const { signals } = fakeSignals({ createdAt: secondsBefore(3 * 3600) });
    const verdict = await engine.evaluate(input("look at example.com"), signals);
    expect(verdict.matches.map((m) => [m.ruleId, m.detail])).toEqual([
      ["new-account-link", "1 link from an account 3 h old (new until 24 h)"],
      ["new-account", "account 3 h old (new until 24 h)"],
    ]);
    expect(verdict.outcome).toBe("flag");
    const noLink = await engine.evaluate(input("hello"), signals);
    expect(noLink.matches.map((m) => m.ruleId)).toEqual(["new-account"]);
  });

  it("do not apply to older or unknown accounts", async () => {
    const old = fakeSignals({ createdAt: secondsBefore(86_400) }).signals;
    expect((await engine.evaluate(input("example.com"), old)).matches).toEqual([]);
    const unknown = fakeSignals().signals;
    expect((await engine.evaluate(input("example.com"), unknown)).matches).toEqual([]);
  });
});

describe("verdicts", () => {
  const engine = RulesEngine.fromJson({
    version: 1,
    banks: [
      { ...rule("crisis", "flag", "high", "self_harm"), terms: ["want to die"] },
      { ...rule("insult", "flag", "medium", "harassment"), terms: ["you idiot"] },
      { ...rule("threat", "flag", "critical", "violence"), terms: ["i will hurt you"] },
    ],
    links: { deniedDomains: [{ ...rule("shortener", "hide", "high"), domains: ["bit.ly"] }] },
  });
  const evaluate = (body: string) => engine.evaluate(input(body), fakeSignals().signals);

  it("give self-harm critical priority and the reason on ties", async () => {
    const verdict = await evaluate("you idiot, i want to die, bit.ly/x");
    expect(verdict).toMatchObject({ severity: "high", reason: "self_harm", priority: "critical" });
    expect(verdict.matches.map((m) => m.ruleId)).toEqual(["crisis", "shortener", "insult"]);
  });

  it("never hide content with a self-harm match because of another rule", async () => {
    expect((await evaluate("i want to die bit.ly/x")).outcome).toBe("flag");
    expect((await evaluate("bit.ly/x")).outcome).toBe("hide");
  });

  it("take the reason of the most severe match", async () => {
    const verdict = await evaluate("I will hurt you, you idiot");
    expect(verdict).toMatchObject({ outcome: "flag", severity: "critical", reason: "violence" });
    expect(verdict.priority).toBe("critical");
    expect(await evaluate("you idiot")).toMatchObject({ priority: "normal", reason: "harassment" });
  });

  it("is none without matches", async () => {
    const verdict = await evaluate("what a lovely day");
    expect(verdict).toEqual({
      matches: [],
      outcome: "none",
      fingerprint: fingerprint("what a lovely day"),
    });
  });
});
