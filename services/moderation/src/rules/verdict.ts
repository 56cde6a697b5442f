import type { MatchResult, Outcome, PriorityName, ScanVerdict, Severity } from "./types.ts";

const severityRank: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const outcomeRank: Record<Outcome, number> = { allow: 0, flag: 1, hide: 2 };
const priorityOf: Record<Severity, PriorityName> = {
  low: "low",
  medium: "normal",
  high: "high",
  critical: "critical",
};

/** Most important first: self-harm, then higher severity, then stronger outcome. */
function compareMatches(a: MatchResult, b: MatchResult): number {
  const selfHarm = Number(b.reason === "self_harm") - Number(a.reason === "self_harm");
  return (
    selfHarm ||
    severityRank[b.severity] - severityRank[a.severity] ||
    outcomeRank[b.outcome] - outcomeRank[a.outcome]
  );
}

/**
 * The verdict for a set of matches: those of the rules engine, an external classifier's, or both
 * concatenated.
 *
 * - outcome: the strongest of the matches (hide > flag > allow), "none" without matches; except
 *   that content with a self-harm match is never hidden by another rule: a person in crisis
 *   needs their circle to see them (only a self-harm rule that itself says hide can hide it).
 * - severity: the highest; reason: that of the most severe match, self-harm winning ties.
 * - priority: "critical" for any self-harm match or any critical one; else high → "high",
 *   medium → "normal", low → "low".
 */
export function combineVerdict(matches: readonly MatchResult[], fingerprint: string): ScanVerdict {
  const sorted = [...matches].sort(compareMatches);
  const selfHarm = sorted.filter((m) => m.reason === "self_harm");
  let outcome: Outcome | "none" = "none";
  for (const match of sorted) {
    if (outcome === "none" || outcomeRank[match.outcome] > outcomeRank[outcome]) {
      outcome = match.outcome;
    }
  }
  if (outcome === "hide" && selfHarm.length > 0 && !selfHarm.some((m) => m.outcome === "hide")) {
    outcome = "flag";
  }
  if (outcome === "none") return { matches: sorted, outcome, fingerprint };

  const severity = sorted.reduce<Severity>(
    (top, m) => (severityRank[m.severity] > severityRank[top] ? m.severity : top),
    "low",
  );
  // The first match of the highest severity, self-harm first among equals (the sort order).
  const lead = sorted.find((m) => m.severity === severity) ?? sorted[0];
  const priority = selfHarm.length > 0 ? "critical" : priorityOf[severity];
  return { matches: sorted, outcome, severity, reason: lead?.reason, priority, fingerprint };
}
