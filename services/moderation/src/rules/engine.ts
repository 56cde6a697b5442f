import { authorMatches } from "./author-rules.ts";
import { parseRulesConfig, type RulesConfig } from "./config.ts";
import { scanText } from "./scanned-text.ts";
import { TextRules } from "./text-rules.ts";
import type { AuthorSignals, ScanInput, ScanVerdict } from "./types.ts";
import { combineVerdict } from "./verdict.ts";

/**
 * A compiled rules file. Compiling normalizes every bank term and compiles every regex once;
 * `evaluate` then prepares the body once (normalized text, words, links, fingerprint) for all
 * rules, asks the author signals only what its rules need, and combines the matches
 * (verdict.ts). Immutable: a new rules file makes a new engine (rules-source.ts).
 */
export class RulesEngine {
  readonly config: RulesConfig;
  readonly #text: TextRules;

  constructor(config: RulesConfig) {
    this.config = config;
    this.#text = new TextRules(config);
  }

  /** Validates raw JSON (throws `RulesConfigError`) and compiles it. */
  static fromJson(raw: unknown, source?: string): RulesEngine {
    return new RulesEngine(parseRulesConfig(raw, source));
  }

  async evaluate(input: ScanInput, signals: AuthorSignals): Promise<ScanVerdict> {
    const text = scanText(input.body);
    const links = this.#text.links(text);
    const found = this.#text.matches(input.body, text, links);
    const facts = { links: links.length, fingerprint: text.fingerprint, letters: text.letters };
    found.push(...(await authorMatches(this.config, input, signals, facts)));
    return combineVerdict(found, text.fingerprint);
  }
}
