import type { RuleFields } from "./config.ts";
import type { MatchResult } from "./types.ts";

/** Longest `detail` of a match. */
export const maxDetail = 200;

export function matchOf(rule: RuleFields, detail: string): MatchResult {
  const { id, severity, outcome, reason } = rule;
  return { ruleId: id, severity, outcome, reason, detail: clip(detail, maxDetail) };
}

/** Text quoted for a detail: one line, at most `max` characters, in double quotes. */
export function quote(text: string, max = 60): string {
  return JSON.stringify(clip(text.replace(/[^\S ]/g, " ").trim(), max));
}

export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** "45 s", "10 min", "6 h", "3 d": rounded down, for details. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}
