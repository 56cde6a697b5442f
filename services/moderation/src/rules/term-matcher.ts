import { normalizeText } from "./normalize.ts";
import { foldLeet, keysOf, type Runs, runsMatch, runsOf, type Token, tokenize } from "./tokens.ts";

/**
 * Bank terms found in tokens, step three of three (after normalize.ts and tokens.ts).
 *
 * A term is a sequence of words ("kill myself" is two), normalized like text. It matches at word
 * boundaries only, so "skill" never contains "kill", and each of its words can be read from:
 * - one token whose key matches it (tokens.ts: leetspeak, i/l, repeated letters);
 * - several one-letter tokens spelled out ("k i l l", "k.i.l.l"), which must begin and end
 *   where that run of one-letter tokens does (so "s k i l l" does not contain "kill");
 * and the whole term can also be one token ("killmyself", "#endmylife").
 * Extra spaces and punctuation between words are not tokens, so they never stop a match.
 */

export interface CompiledTerm {
  /** The term as configured. */
  term: string;
  parts: Runs[];
  /** All parts as one word, for terms of two or more words. */
  joined: Runs | undefined;
}

export interface TermHit<T extends CompiledTerm> {
  term: T;
  /** Tokens [start, end). */
  start: number;
  end: number;
}

/** Longest run of one-letter tokens read as one word. */
const maxSpelled = 48;

/** The compiled term, or undefined when it has no letter or digit. */
export function compileTerm(term: string): CompiledTerm | undefined {
  const parts = tokenize(normalizeText(term)).map((t) => t.keys[0]);
  if (parts.length === 0 || parts.some((p) => p === undefined)) return undefined;
  const defined = parts as Runs[];
  const joined = defined.length > 1 ? runsOf(defined.map((p) => p.key).join("")) : undefined;
  return { term, parts: defined, joined };
}

export class TermMatcher<T extends CompiledTerm> {
  /** By the skeleton of a term's first word, and of the whole term in one word. */
  readonly #byWord = new Map<string, T[]>();
  /** By the first letter of a term, for words spelled out. */
  readonly #byLetter = new Map<string, T[]>();

  constructor(terms: readonly T[]) {
    for (const term of terms) {
      const first = term.parts[0];
      if (!first) continue;
      add(this.#byWord, first.skeleton, term);
      if (term.joined) add(this.#byWord, term.joined.skeleton, term);
      add(this.#byLetter, first.skeleton.charAt(0), term);
    }
  }

  /** The first occurrence of each term found in the tokens. */
  findAll(tokens: readonly Token[]): TermHit<T>[] {
    const found = new Map<T, TermHit<T>>();
    const tryAt = (start: number, terms: readonly T[] | undefined) => {
      for (const term of terms ?? []) {
        if (found.has(term)) continue;
        const end = matchAt(term, tokens, start);
        if (end >= 0) found.set(term, { term, start, end });
      }
    };
    tokens.forEach((token, start) => {
      for (const key of token.keys) tryAt(start, this.#byWord.get(key.skeleton));
      // Only a one-letter token can begin a spelled-out word.
      if (token.single) {
        const letter = foldLeet(token.raw);
        tryAt(start, this.#byLetter.get(letter));
        const other = token.keys[0]?.skeleton;
        if (other && other !== letter) tryAt(start, this.#byLetter.get(other));
      }
    });
    return [...found.values()];
  }
}

function add<T>(index: Map<string, T[]>, key: string, term: T) {
  const list = index.get(key) ?? [];
  if (!list.includes(term)) list.push(term);
  index.set(key, list);
}

/** The end (exclusive) of the term's match beginning at token `start`, or -1. */
function matchAt(term: CompiledTerm, tokens: readonly Token[], start: number): number {
  const first = tokens[start];
  const joined = term.joined;
  if (first && joined && first.keys.some((k) => runsMatch(k, joined))) return start + 1;
  const n = tokens.length;
  const m = term.parts.length;
  let memo: Map<number, number> | undefined;
  const isSingle = (j: number) => tokens[j]?.single === true;

  const from = (k: number, j: number): number => {
    if (k === m) return j;
    const token = tokens[j];
    const part = term.parts[k];
    if (!token || !part) return -1;
    if (token.keys.some((key) => runsMatch(key, part))) {
      const end = from(k + 1, j + 1);
      if (end >= 0 || !token.single) return end;
    }
    // Spelled out: a run of one-letter tokens, begun at the start of the run for the first word.
    if (!token.single || (k === 0 && isSingle(j - 1))) return -1;
    const id = k * (n + 1) + j;
    memo ??= new Map();
    const seen = memo.get(id);
    if (seen !== undefined) return seen;
    let end = -1;
    let spelled = token.raw;
    for (let e = j + 1; e < n && e - j < maxSpelled && isSingle(e); e++) {
      spelled += tokens[e]?.raw;
      if (!part.skeleton.startsWith(runsOf(foldLeet(spelled)).skeleton)) break;
      if (k === m - 1 && isSingle(e + 1)) continue;
      if (keysOf(spelled).some((key) => runsMatch(key, part))) {
        end = from(k + 1, e + 1);
        if (end >= 0) break;
      }
    }
    memo.set(id, end);
    return end;
  };
  return from(0, start);
}
