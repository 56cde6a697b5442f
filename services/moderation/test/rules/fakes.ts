import { RulesEngine } from "../../src/rules/engine.ts";
import type { AuthorSignals, ScanInput } from "../../src/rules/types.ts";

export const now = new Date("2025-06-01T12:00:00Z");

export function input(body: string, overrides: Partial<ScanInput> = {}): ScanInput {
  return {
    kind: "post",
    contentId: "c1",
    authorId: "a1",
    circleId: "k1",
    body,
    at: now,
    ...overrides,
  };
}

/**
 * Author signals answered from a list of earlier items (time and fingerprint), with every call
 * recorded.
 */
export function fakeSignals(
  options: { createdAt?: Date; items?: { at: Date; fingerprint: string }[] } = {},
) {
  const calls: { method: string; since?: Date }[] = [];
  const signals: AuthorSignals = {
    async accountCreatedAt() {
      calls.push({ method: "accountCreatedAt" });
      return options.createdAt;
    },
    async recentActivity(_authorId, since, fingerprint) {
      calls.push({ method: "recentActivity", since });
      const inWindow = (options.items ?? []).filter((i) => i.at >= since && i.at < now);
      const duplicates = inWindow.filter((i) => i.fingerprint === fingerprint).length;
      return { count: inWindow.length, duplicates };
    },
  };
  return { signals, calls };
}

/** An engine with one bank of `terms` (id "bank", self-harm, critical, flag). */
export function bankEngine(terms: string[]): RulesEngine {
  return RulesEngine.fromJson({
    version: 1,
    banks: [{ id: "bank", reason: "self_harm", severity: "critical", outcome: "flag", terms }],
  });
}

/** The ids of the rules that matched the body, with no author signals. */
export async function matchedIds(engine: RulesEngine, body: string): Promise<string[]> {
  const verdict = await engine.evaluate(input(body), fakeSignals().signals);
  return verdict.matches.map((m) => m.ruleId);
}

export const secondsBefore = (seconds: number) => new Date(now.getTime() - seconds * 1000);
