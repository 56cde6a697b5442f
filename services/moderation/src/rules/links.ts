/**
 * Links in normalized text (normalize.ts: lowercase, confusables folded, invisible characters
 * gone, so "bіt.ly" with a Cyrillic і is "bit.ly").
 *
 * Obfuscated dots ("example[.]com", "example(dot)com") and "hxxp" count as written plainly. A
 * link is a word with a scheme ("https://…"), one beginning with "www.", or a bare domain whose
 * top-level domain is in `commonTlds` or is the TLD of a denied domain; so "node.js", "e.g." and
 * "it.so" (a missing space) are not links, and an e-mail address is not one either.
 *
 * The text is cut into words first and each word is matched by an anchored expression, so the
 * work stays linear in the length of the text.
 */

export interface FoundLink {
  /** The host, lowercase, without "www.", userinfo or port. */
  host: string;
  /** The link as written (normalized), at most 100 characters. */
  text: string;
}

/** TLDs of bare domains ("example.com") that count as links. Common words (it, me, so) left out. */
export const commonTlds: ReadonlySet<string> = new Set(
  (
    "com net org info biz io co ly gg tv app dev xyz site online top club shop store link click " +
    "live ru cn uk de fr nl eu ca au br jp es pl ch se tk ml ga cf gq cc ws pw su gl sh ai vip " +
    "win bid loan work fun icu cyou buzz rest today money cash bet casino porn sex xxx adult"
  ).split(" "),
);

const obfuscatedDot = /\s?(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\})\s?/g;
const wordSeparator = /[\s<>"'()[\]{}|,\\^`]+/;
const edgePunctuation = /^[.,;:!?*_~-]+|[.,;:!?*_~-]+$/g;
const withScheme = /^(?:https?|ftp|hxxps?):\/\/([^/?#\s]+)/;
const bareDomain =
  /^((?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,62})?\.)+(\p{L}{2,24}|xn--[a-z0-9-]{1,59}))(?::\d{1,5})?(?:[/?#].*)?$/u;

export function findLinks(text: string, extraTlds: ReadonlySet<string> = new Set()): FoundLink[] {
  const links: FoundLink[] = [];
  for (const raw of text.replace(obfuscatedDot, ".").split(wordSeparator)) {
    const word = raw.replace(edgePunctuation, "");
    if (!word.includes(".") || word.length > 2048) continue;
    const host = hostOf(word, extraTlds);
    if (host) links.push({ host: host.replace(/^www\./, ""), text: word.slice(0, 100) });
  }
  return links;
}

function hostOf(word: string, extraTlds: ReadonlySet<string>): string | undefined {
  const schemed = withScheme.exec(word);
  if (schemed?.[1]) return schemed[1].replace(/^.*@/, "").replace(/:\d*$/, "");
  const bare = bareDomain.exec(word);
  const host = bare?.[1];
  const tld = bare?.[2];
  if (!host || !tld) return undefined;
  if (host.startsWith("www.") || commonTlds.has(tld) || extraTlds.has(tld)) return host;
  return undefined;
}

/** Whether the host is the domain or one of its subdomains. */
export function hostIn(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}
