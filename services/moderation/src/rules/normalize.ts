import { confusables } from "./confusables.ts";

/**
 * Text normalization for matching, step one of three (then tokens.ts, then term-matcher.ts).
 *
 * Each code point of the input is mapped on its own, so every character of the result knows the
 * offset of the character it came from (details quote the original text):
 *
 * 1. Invisible characters are dropped: every Default_Ignorable_Code_Point (zero-width space,
 *    joiners, U+2060, U+FEFF, soft hyphen, variation selectors, bidi controls, tags).
 * 2. NFKC (fullwidth, mathematical, enclosed and ligature forms become plain letters), then
 *    lowercasing. "İ" lowercases to "i" plus a combining dot, which step 3 removes.
 * 3. NFD, and every combining mark (\p{M}) removed: "kíll" becomes "kill".
 * 4. Confusables folded to Latin (confusables.ts): Cyrillic "кіll" becomes "kill", "ı" "i".
 * 5. Every kind of whitespace becomes one plain space.
 *
 * Mapping code points one at a time gives the same letters as normalizing the whole string, as
 * combining marks are removed anyway; it only leaves Hangul jamo decomposed, consistently for
 * terms and text.
 */

export interface NormalizedText {
  /** The normalized text. */
  text: string;
  /** For each UTF-16 unit of `text`, the offset in `source` of the character it came from. */
  offsets: number[];
  source: string;
}

const invisible = /^\p{Default_Ignorable_Code_Point}$/u;
/** Checked after `invisible`: JavaScript's \s includes the invisible U+FEFF. */
const space = /^[\s\p{Z}]$/u;
const marks = /\p{M}/gu;

const cache = new Map<string, string>();
const cacheLimit = 20_000;

/** The normalized form of one code point (possibly empty, possibly several letters). */
export function normalizeCodePoint(cp: string): string {
  const known = cache.get(cp);
  if (known !== undefined) return known;
  let out = "";
  if (invisible.test(cp)) {
    // dropped
  } else if (space.test(cp)) {
    out = " ";
  } else {
    const plain = cp.normalize("NFKC").toLowerCase().normalize("NFD").replace(marks, "");
    for (const ch of plain) out += confusables.get(ch) ?? ch;
  }
  if (cache.size >= cacheLimit) cache.clear();
  cache.set(cp, out);
  return out;
}

export function normalizeText(source: string): NormalizedText {
  let text = "";
  const offsets: number[] = [];
  let at = 0;
  for (const cp of source) {
    const mapped = normalizeCodePoint(cp);
    text += mapped;
    for (let i = 0; i < mapped.length; i++) offsets.push(at);
    at += cp.length;
  }
  return { text, offsets, source };
}
