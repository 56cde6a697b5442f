import type { NormalizedText } from "./normalize.ts";

/**
 * Words of normalized text, step two of three (after normalize.ts).
 *
 * A token is a run of letters, digits and the symbols leetspeak uses (@ $ ! | +); apostrophes
 * inside a word are dropped ("don't" is "dont"); everything else separates tokens, so "k.i.l.l",
 * "k-i-l-l" and "k_i_l_l" are four one-letter tokens, like "k i l l". Tokens with no letter or
 * digit ("!!!") are left out.
 *
 * Each token has up to two keys, the forms a bank term is compared with:
 * - leet: only when the token has a letter (so "2024" stays a number): 0→o 1→i 3→e 4→a 5→s 7→t
 *   @→a $→s !→i |→i +→t, after dropping "!" at either end (punctuation, not a letter);
 * - plain: the symbols removed, digits kept ("kill!" → "kill", "$uicide" → "uicide").
 * In both, "l" is folded into "i": "1" and "|" stand for either, so i, l, 1, | and ! are one class
 * ("k1ll", "ki11" and "kiil" all read as "kiii").
 *
 * A key is compared as runs of equal letters (`Runs`): the skeleton (each run once) must be equal,
 * and each run as long as the term's, or 3 or more long, which no English spelling needs: so
 * "kiiiill" and "killll" match "kill", while "god" does not match "good" nor "as" match "ass".
 */

export interface Runs {
  readonly key: string;
  /** The key with each run of equal letters written once. */
  readonly skeleton: string;
  /** The length of each run. */
  readonly lengths: readonly number[];
}

export interface Token {
  /** Normalized characters of the word, apostrophes dropped. */
  raw: string;
  /** Offsets in the normalized text: [start, end). */
  start: number;
  end: number;
  keys: readonly Runs[];
  /** One letter or digit: a candidate for spelled-out words ("k i l l"). */
  single: boolean;
}

/** Word characters, with apostrophes between them. */
const word = /[\p{L}\p{N}@$!|+]+(?:['’‘ʼ`]+[\p{L}\p{N}@$!|+]+)*/gu;
const apostrophes = /['’‘ʼ`]/g;
const asciiLetters = /^[a-z]+$/;
const letter = /\p{L}/u;
const letterOrDigit = /[\p{L}\p{N}]/u;
const symbols = /[@$!|+]/g;
const edgeBangs = /^!+|!+$/g;
const leet: Record<string, string> = {
  "0": "o",
  "1": "i",
  "3": "e",
  "4": "a",
  "5": "s",
  "7": "t",
  "@": "a",
  $: "s",
  "!": "i",
  "|": "i",
  "+": "t",
  l: "i",
};

export function runsOf(key: string): Runs {
  let skeleton = "";
  const lengths: number[] = [];
  let last = "";
  for (const ch of key) {
    if (ch === last) {
      lengths[lengths.length - 1] = (lengths.at(-1) ?? 0) + 1;
    } else {
      skeleton += ch;
      lengths.push(1);
      last = ch;
    }
  }
  return { key, skeleton, lengths };
}

/** Whether a key of the text reads as a key of a term (see the module comment). */
export function runsMatch(text: Runs, term: Runs): boolean {
  if (text.skeleton !== term.skeleton) return false;
  return text.lengths.every((n, i) => n === term.lengths[i] || n >= 3);
}

/** Leetspeak digits and symbols read as letters, and "l" as "i". */
export function foldLeet(raw: string): string {
  let folded = "";
  for (const ch of raw) folded += leet[ch] ?? ch;
  return folded;
}

const keyCache = new Map<string, readonly Runs[]>();
const keyCacheLimit = 50_000;

/** The keys of one word (normalized characters), leet form first. Shared: do not modify. */
export function keysOf(raw: string): readonly Runs[] {
  const known = keyCache.get(raw);
  if (known) return known;
  let keys: string[];
  if (asciiLetters.test(raw)) {
    keys = [raw.replaceAll("l", "i")];
  } else {
    keys = [];
    if (letter.test(raw)) keys.push(foldLeet(raw.replace(edgeBangs, "")));
    const plain = raw.replace(symbols, "").replaceAll("l", "i");
    if (plain !== keys[0]) keys.push(plain);
  }
  const runs = keys.filter((k) => k !== "").map(runsOf);
  if (keyCache.size >= keyCacheLimit) keyCache.clear();
  keyCache.set(raw, runs);
  return runs;
}

/** The tokens of normalized text, reading at most `limit` characters of it. */
export function tokenize(normalized: NormalizedText, limit = Number.POSITIVE_INFINITY): Token[] {
  const text = normalized.text.length > limit ? normalized.text.slice(0, limit) : normalized.text;
  const tokens: Token[] = [];
  for (const found of text.matchAll(word)) {
    const raw = found[0].replace(apostrophes, "");
    if (!letterOrDigit.test(raw)) continue;
    const single =
      raw.length === 1 || (raw.length === 2 && raw.codePointAt(0) !== raw.charCodeAt(0));
    const start = found.index;
    tokens.push({ raw, start, end: start + found[0].length, keys: keysOf(raw), single });
  }
  return tokens;
}
