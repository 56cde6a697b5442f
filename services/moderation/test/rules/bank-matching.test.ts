import { describe, expect, it } from "vitest";
import { bankEngine, fakeSignals, input, matchedIds } from "./fakes.ts";

/** Bank terms read through evasions, and only at word boundaries (normalize.ts, tokens.ts, term-matcher.ts). */

const selfHarm = bankEngine(["kill myself", "suicide", "end my life", "want to die"]);
const matches = (body: string) => matchedIds(selfHarm, body).then((ids) => ids.includes("bank"));

describe("bank terms through evasions", () => {
  it.each([
    ["plain", "i want to kill myself"],
    ["extra spaces", "kill     myself"],
    ["punctuation between words", "kill... myself!!!"],
    ["upper case", "KILL MYSELF"],
    ["spelled out with spaces", "k i l l myself"],
    ["spelled out, both words", "k i l l  m y s e l f"],
    ["spelled out with dots", "k.i.l.l myself"],
    ["spelled out with hyphens", "k-i-l-l myself"],
    ["spelled out with underscores", "k_i_l_l m_y_s_e_l_f"],
    ["Cyrillic і and е", "kіll mysеlf"],
    ["Greek ο and κ", "κill myself and suicide"],
    ["fullwidth", "ｋｉｌｌ ｍｙｓｅｌｆ"],
    ["leetspeak", "k1ll mys3lf"],
    ["leetspeak with 1 for l", "ki11 myse1f"],
    ["leetspeak with |", "ki|| myself"],
    ["leetspeak digits", "su1c1de"],
    ["dollar for s", "$uicide"],
    ["at for a", "w@nt to die"],
    ["zero-width space inside", "ki\u200bll my\u200dself"],
    ["soft hyphen and word joiner", "sui\u00adci\u2060de"],
    ["variation selector", "suicide\ufe0f"],
    ["diacritics", "kíll mysèlf"],
    ["combining marks", "k\u0301i\u0308ll myself"],
    ["repeated letters", "kiiiill myself"],
    ["repeated final letters", "killllll myselfffff"],
    ["apostrophe inside", "k'i'l'l myself"],
    ["one word", "#killmyself"],
    ["other words around", "honestly i just want to end my life tonight"],
    ["on its own line", "...\nsuicide\n..."],
    ["Turkish dotted capital I", "SUİCİDE"],
    ["Turkish dotless i", "suıcıde"],
  ])("matches with %s: %j", async (_what, body) => {
    expect(await matches(body)).toBe(true);
  });

  it.each([
    ["a longer word", "that takes real skill"],
    ["another longer word", "killer whale documentary"],
    ["part of the phrase", "kill the lights myself"],
    ["words in another order", "myself kill"],
    ["one word of a phrase", "end the day with my life story"],
    ["a word beginning with the term", "suicides-are-discussed elsewhere? no: suicidesquad"],
    ["an ordinary sentence", "I will not give up"],
    ["a single letter doubled", "kil myself"],
    ["spelled-out letters inside a longer run", "s k i l l myself"],
    ["numbers only", "1234 5678"],
  ])("does not match %s: %j", async (_what, body) => {
    expect(await matches(body)).toBe(false);
  });

  it("keeps word boundaries for short terms", async () => {
    const engine = bankEngine(["ass", "god"]);
    expect(await matchedIds(engine, "the assassin passed the class as usual")).toEqual([]);
    expect(await matchedIds(engine, "good morning")).toEqual([]);
    expect(await matchedIds(engine, "you a$$")).toEqual(["bank"]);
    expect(await matchedIds(engine, "oh my gooood")).toEqual(["bank"]);
  });

  it("says what matched and how it was written", async () => {
    const verdict = await selfHarm.evaluate(input("I'll k1ll  mys3lf"), fakeSignals().signals);
    expect(verdict.matches[0]?.detail).toBe('matched "kill myself" (as "k1ll  mys3lf")');
    const plain = await selfHarm.evaluate(input("Suicide and end my life"), fakeSignals().signals);
    expect(plain.matches[0]?.detail).toBe('matched "suicide" and 1 more');
  });

  it("keeps details short", async () => {
    const term = "word ".repeat(39).trim();
    const engine = bankEngine([term]);
    const verdict = await engine.evaluate(
      input(term.replaceAll(" ", " -- ")),
      fakeSignals().signals,
    );
    const detail = verdict.matches[0]?.detail ?? "";
    expect(detail).toMatch(/^matched "word word .*…" \(as "word -- word .*…"\)$/);
    expect(detail.length).toBeLessThanOrEqual(200);
  });

  it("reads a long text quickly", async () => {
    const body = "k i l l mercy ki11 m y s e l x kiiil my w a n t to d i ".repeat(1_000);
    const started = performance.now();
    await matchedIds(selfHarm, body);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
