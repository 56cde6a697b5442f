/** The vocabulary shared by the rules file, the engine and its callers. */

export const severities = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof severities)[number];

/** allow: record the match only; flag: open a case, content stays visible; hide: hide until reviewed. */
export const outcomes = ["allow", "flag", "hide"] as const;
export type Outcome = (typeof outcomes)[number];

export const reasonNames = [
  "self_harm",
  "harassment",
  "hate",
  "spam",
  "sexual_content",
  "violence",
  "impersonation",
  "other",
] as const;
export type ReasonName = (typeof reasonNames)[number];

export type PriorityName = "low" | "normal" | "high" | "critical";

export interface ScanInput {
  kind: "post" | "response";
  contentId: string;
  authorId: string;
  circleId: string;
  body: string;
  at: Date;
}

export interface AuthorSignals {
  /** When the author's account was created; undefined when unknown (then new-account rules do not apply). */
  accountCreatedAt(authorId: string): Promise<Date | undefined>;
  /** Items the author wrote in [since, input.at), excluding this one, and how many of them have this fingerprint. */
  recentActivity(
    authorId: string,
    since: Date,
    fingerprint: string,
  ): Promise<{ count: number; duplicates: number }>;
}

export interface MatchResult {
  ruleId: string;
  severity: Severity;
  outcome: Outcome;
  reason: ReasonName;
  /** For moderators, at most 200 characters. */
  detail: string;
}

export interface ScanVerdict {
  /** Self-harm first, then by severity and outcome, strongest first. */
  matches: MatchResult[];
  outcome: Outcome | "none";
  severity?: Severity;
  reason?: ReasonName;
  priority?: PriorityName;
  fingerprint: string;
}
