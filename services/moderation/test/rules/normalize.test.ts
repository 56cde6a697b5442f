import { describe, expect, it } from "vitest";
import { normalizeText } from "../../src/rules/normalize.ts";
import { keysOf, runsMatch, runsOf, tokenize } from "../../src/rules/tokens.ts";

describe("normalizeText", () => {
  it.each([
    ["Hello WORLD", "hello world"],
    ["ｆｕｌｌｗｉｄｔｈ", "fullwidth"],
    ["𝐛𝐨𝐥𝐝 ⓚ ﬁne", "bold k fine"],
    ["café naïve Ångström", "cafe naive angstrom"],
    ["İstanbul ıi", "istanbul ii"],
    ["zero\u200bwidth\u200c\u200d\u2060\ufeff soft\u00adhyphen", "zerowidth softhyphen"],
    ["emoji\ufe0f", "emoji"],
    ["рауѕаl", "paysal"],
    ["Straße œuvre", "strasse oeuvre"],
    ["tab\tand\u00a0nbsp\u3000ideographic", "tab and nbsp ideographic"],
  ])("%j → %j", (input, expected) => {
    expect(normalizeText(input).text).toBe(expected);
  });

  it("maps each normalized character to where it came from", () => {
    const normalized = normalizeText("a\u200b𝐛ﬁ");
    expect(normalized.text).toBe("abfi");
    expect(normalized.offsets).toEqual([0, 2, 4, 4]);
  });
});

describe("tokens", () => {
  const raws = (text: string) => tokenize(normalizeText(text)).map((t) => t.raw);

  it("split on anything but letters, digits and leet symbols", () => {
    expect(raws("don’t k.i.l.l k-i_l l33t $ign !!! 2024")).toEqual([
      "dont",
      "k",
      "i",
      "l",
      "l",
      "k",
      "i",
      "l",
      "l33t",
      "$ign",
      "2024",
    ]);
  });

  it("read leetspeak only in words with a letter, and i, l, 1 and | as one letter", () => {
    expect(keysOf("k1ll!").map((k) => k.key)).toEqual(["kiii", "k1ii"]);
    expect(keysOf("ki||").map((k) => k.key)).toEqual(["kiii", "ki"]);
    expect(keysOf("2024").map((k) => k.key)).toEqual(["2024"]);
  });

  it("match repeated letters only when stretched to three or more", () => {
    const term = runsOf("kiii");
    expect(runsMatch(runsOf("kiiiiii"), term)).toBe(true);
    expect(runsMatch(runsOf("kii"), term)).toBe(false);
    expect(runsMatch(runsOf("good"), runsOf("god"))).toBe(false);
    expect(runsMatch(runsOf("goood"), runsOf("god"))).toBe(true);
  });
});
