import type { RuleFields, RulesConfig } from "./config.ts";
import { type FoundLink, findLinks, hostIn } from "./links.ts";
import { matchOf, quote } from "./match-detail.ts";
import { regexInputLimit } from "./safe-regex.ts";
import { type ScannedText, scanLimit } from "./scanned-text.ts";
import { type CompiledTerm, compileTerm, TermMatcher } from "./term-matcher.ts";
import type { MatchResult } from "./types.ts";

interface BankTerm extends CompiledTerm {
  bank: number;
}

interface CompiledRegex {
  rule: RuleFields;
  regex: RegExp;
  normalized: boolean;
}

/** The rules that read only the text: banks, regexes and links. Compiled once per rules file. */
export class TextRules {
  readonly #config: RulesConfig;
  readonly #terms: TermMatcher<BankTerm>;
  readonly #regexes: CompiledRegex[];
  readonly #linkTlds: ReadonlySet<string>;

  constructor(config: RulesConfig) {
    this.#config = config;
    const terms: BankTerm[] = [];
    config.banks.forEach((bank, index) => {
      for (const term of bank.terms) {
        const compiled = compileTerm(term);
        if (compiled) terms.push({ ...compiled, bank: index });
      }
    });
    this.#terms = new TermMatcher(terms);
    this.#regexes = config.regexes.map((r) => ({
      rule: r,
      regex: new RegExp(r.pattern, r.flags),
      normalized: r.normalized,
    }));
    const domains = config.links.deniedDomains.flatMap((d) => d.domains);
    this.#linkTlds = new Set(domains.map((d) => d.slice(d.lastIndexOf(".") + 1)));
  }

  /** The links of the text, as the link rules count them. */
  links(text: ScannedText): FoundLink[] {
    return findLinks(text.normalized.text.slice(0, scanLimit), this.#linkTlds);
  }

  matches(body: string, text: ScannedText, links: readonly FoundLink[]): MatchResult[] {
    return [
      ...this.#bankMatches(text),
      ...this.#regexMatches(body, text),
      ...this.#linkMatches(links),
    ];
  }

  #bankMatches(text: ScannedText): MatchResult[] {
    const byBank = new Map<number, { term: string; written: string }[]>();
    for (const hit of this.#terms.findAll(text.tokens)) {
      const list = byBank.get(hit.term.bank) ?? [];
      list.push({ term: hit.term.term, written: writtenText(text, hit.start, hit.end) });
      byBank.set(hit.term.bank, list);
    }
    return [...byBank].flatMap(([index, hits]) => {
      const bank = this.#config.banks[index];
      const first = hits[0];
      if (!bank || !first) return [];
      const same = first.written.toLowerCase() === first.term.toLowerCase();
      const as = same ? "" : ` (as ${quote(first.written)})`;
      const more = hits.length > 1 ? ` and ${hits.length - 1} more` : "";
      return [matchOf(bank, `matched ${quote(first.term)}${as}${more}`)];
    });
  }

  #regexMatches(body: string, text: ScannedText): MatchResult[] {
    const results: MatchResult[] = [];
    for (const { rule, regex, normalized } of this.#regexes) {
      const subject = (normalized ? text.normalized.text : body).slice(0, regexInputLimit);
      const found = regex.exec(subject);
      if (found) results.push(matchOf(rule, `matched ${quote(found[0])}`));
    }
    return results;
  }

  #linkMatches(links: readonly FoundLink[]): MatchResult[] {
    const results: MatchResult[] = [];
    for (const list of this.#config.links.deniedDomains) {
      for (const link of links) {
        const domain = list.domains.find((d) => hostIn(link.host, d));
        if (domain === undefined) continue;
        results.push(matchOf(list, `links to denied domain ${quote(domain)}: ${quote(link.text)}`));
        break;
      }
    }
    const tooMany = this.#config.links.tooMany;
    if (tooMany && links.length > tooMany.max) {
      results.push(matchOf(tooMany, `${links.length} links (at most ${tooMany.max})`));
    }
    return results;
  }
}

/** The original text of tokens [start, end), for details. */
function writtenText(text: ScannedText, start: number, end: number): string {
  const { offsets, source } = text.normalized;
  const first = text.tokens[start];
  const last = text.tokens[end - 1];
  if (!first || !last) return "";
  const from = offsets[first.start] ?? 0;
  const lastChar = offsets[last.end - 1] ?? from;
  const to = lastChar + ((source.codePointAt(lastChar) ?? 0) > 0xffff ? 2 : 1);
  return source.slice(from, to);
}
