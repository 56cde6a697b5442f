import { createHash } from "node:crypto";
import { type NormalizedText, normalizeText } from "./normalize.ts";
import { type Token, tokenize } from "./tokens.ts";

/** Bank terms, links and fingerprints read at most this many normalized characters of a body. */
export const scanLimit = 50_000;

/** A body prepared once for every rule. */
export interface ScannedText {
  normalized: NormalizedText;
  tokens: Token[];
  /** Letters and digits in the tokens. */
  letters: number;
  fingerprint: string;
}

export function scanText(body: string): ScannedText {
  const normalized = normalizeText(body);
  const tokens = tokenize(normalized, scanLimit);
  const letters = tokens.reduce((n, t) => n + t.raw.length, 0);
  return { normalized, tokens, letters, fingerprint: fingerprintOf(normalized, tokens) };
}

/**
 * A stable sha256 (hex) of the text as the matcher reads it: the words' keys with repeated
 * letters written once, without spaces or punctuation. Texts that differ only in case, spacing,
 * punctuation, accents, invisible characters, lookalike letters, leetspeak or repeated letters
 * have the same fingerprint. A text without letters or digits (emoji only) is hashed as its
 * normalized characters instead, so all such texts do not share one fingerprint.
 */
export function fingerprint(body: string): string {
  return scanText(body).fingerprint;
}

function fingerprintOf(normalized: NormalizedText, tokens: readonly Token[]): string {
  const words = tokens.map((t) => t.keys[0]?.skeleton ?? t.raw).join("");
  const basis =
    words !== "" ? `t:${words}` : `r:${normalized.text.slice(0, scanLimit).replace(/ /g, "")}`;
  return createHash("sha256").update(basis).digest("hex");
}
