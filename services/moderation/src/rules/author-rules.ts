import type { RulesConfig } from "./config.ts";
import { formatDuration, matchOf } from "./match-detail.ts";
import type { AuthorSignals, MatchResult, ScanInput } from "./types.ts";

export interface AuthorFacts {
  /** Links found in the item. */
  links: number;
  fingerprint: string;
  /** Normalized letters and digits in the item. */
  letters: number;
}

/**
 * The rules that ask about the author: spam heuristics (bursts and duplicates, through
 * `recentActivity`) and new-account restrictions (through `accountCreatedAt`). A signal is asked
 * only when a rule needs it, at most once per window, and all questions go out together.
 */
export async function authorMatches(
  config: RulesConfig,
  input: ScanInput,
  signals: AuthorSignals,
  facts: AuthorFacts,
): Promise<MatchResult[]> {
  const { burst, duplicates } = config.spam;
  const checkDuplicates =
    duplicates && facts.letters >= duplicates.minChars ? duplicates : undefined;
  const activity = new Map<number, Promise<{ count: number; duplicates: number }>>();
  const activityIn = (windowSeconds: number) => {
    let pending = activity.get(windowSeconds);
    if (!pending) {
      const since = new Date(input.at.getTime() - windowSeconds * 1000);
      pending = signals.recentActivity(input.authorId, since, facts.fingerprint);
      activity.set(windowSeconds, pending);
    }
    return pending;
  };
  const [createdAt, recent, repeated] = await Promise.all([
    config.newAccounts ? signals.accountCreatedAt(input.authorId) : undefined,
    burst ? activityIn(burst.windowSeconds) : undefined,
    checkDuplicates ? activityIn(checkDuplicates.windowSeconds) : undefined,
  ]);

  const results: MatchResult[] = [];
  if (burst && recent && recent.count + 1 > burst.max) {
    const window = formatDuration(burst.windowSeconds);
    results.push(matchOf(burst, `${recent.count + 1} items in ${window} (at most ${burst.max})`));
  }
  if (checkDuplicates && repeated && repeated.duplicates + 1 > checkDuplicates.max) {
    const window = formatDuration(checkDuplicates.windowSeconds);
    const times = repeated.duplicates + 1;
    results.push(
      matchOf(
        checkDuplicates,
        `same text ${times} times in ${window} (at most ${checkDuplicates.max})`,
      ),
    );
  }
  const rules = config.newAccounts;
  if (rules && createdAt) {
    const ageSeconds = (input.at.getTime() - createdAt.getTime()) / 1000;
    if (ageSeconds < rules.maxAgeSeconds) {
      const age = `account ${formatDuration(ageSeconds)} old (new until ${formatDuration(rules.maxAgeSeconds)})`;
      if (rules.links && facts.links > 0) {
        const links = facts.links === 1 ? "1 link" : `${facts.links} links`;
        results.push(matchOf(rules.links, `${links} from an ${age}`));
      }
      if (rules.items) results.push(matchOf(rules.items, age));
    }
  }
  return results;
}
