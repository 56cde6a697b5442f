import { setTimeout as sleep } from "node:timers/promises";
import { DependencyUnavailableError } from "@kindred/errors";
import { createResiliencePolicy, type Logger } from "@kindred/resilience";
import type { Registry } from "prom-client";
import { z } from "zod";
import type { MatchResult, Outcome, ReasonName, Severity } from "../rules/types.ts";
import { OutboundCallError, parseJsonBody, postJson, retryAfterMs } from "./http.ts";
import { type ClassifierOutcome, classifierMetrics } from "./outbound-metrics.ts";

export type ClassifierResult =
  | { status: "ok"; matches: MatchResult[] }
  /** `reason` is short and safe to note on a case: "timeout", "circuit open", "HTTP 503". */
  | { status: "unavailable"; reason: string };

/**
 * An external moderation classifier, consulted next to Kindred's own rules.
 *
 * Where no classifier is configured, the composition root holds `undefined` rather than a
 * classifier that answers "no matches": "not classified" must stay distinguishable from
 * "classified clean", and a `Classifier | undefined` makes every caller handle the absence.
 */
export interface Classifier {
  /**
   * Never throws because the classifier is down, slow, broken or behind an open circuit: that
   * is `{ status: "unavailable" }`, so the caller notes it on the case and still applies its
   * rules. Only `signal` aborting rejects (with its reason).
   */
  classify(text: string, signal?: AbortSignal): Promise<ClassifierResult>;
}

export interface ClassifierOptions {
  /** The full URL: `https://api.openai.com/v1/moderations`. */
  endpoint: string;
  apiKey: string;
  model?: string;
  /** A category matches at this score or above (or when the classifier flags it). */
  threshold?: number;
  /** For one attempt; `signal` bounds the whole call, retries included. */
  timeoutMs?: number;
  /** Longer texts are cut to this many characters before they are sent. */
  maxInputChars?: number;
  retry?: { maxAttempts: number; initialDelayMs: number; maxDelayMs: number };
  breaker?: { consecutiveFailures: number; halfOpenAfterMs: number };
  logger: Logger;
  registry?: Registry;
}

const dependency = "moderation-classifier";
const defaults = {
  model: "omni-moderation-latest",
  threshold: 0.5,
  timeoutMs: 2_000,
  maxInputChars: 10_000,
  retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1_000 },
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 },
};

/** The OpenAI moderation API's answer, as far as we read it (unknown fields are ignored). */
const moderationResponse = z.object({
  id: z.string(),
  model: z.string(),
  results: z
    .array(
      z.object({
        flagged: z.boolean(),
        categories: z.record(z.string(), z.boolean()),
        category_scores: z.record(z.string(), z.number().min(0).max(1)),
      }),
    )
    .length(1),
});

type ModerationResult = z.infer<typeof moderationResponse>["results"][number];

interface Mapping {
  severity: Severity;
  outcome: Outcome;
  reason: ReasonName;
}

const selfHarm: Mapping = { severity: "critical", outcome: "flag", reason: "self_harm" };
const illicit: Mapping = { severity: "medium", outcome: "flag", reason: "other" };

/**
 * What each classifier category means for us. Self-harm is critical but only flagged: a person
 * in crisis is reached out to, never silenced. Sexual content involving minors is the one
 * category hidden at once.
 */
const mappings = new Map<string, Mapping>([
  ["self-harm", selfHarm],
  ["self-harm/intent", selfHarm],
  ["self-harm/instructions", selfHarm],
  ["harassment/threatening", { severity: "high", outcome: "flag", reason: "harassment" }],
  ["hate/threatening", { severity: "high", outcome: "flag", reason: "hate" }],
  ["violence", { severity: "high", outcome: "flag", reason: "violence" }],
  ["harassment", { severity: "medium", outcome: "flag", reason: "harassment" }],
  ["hate", { severity: "medium", outcome: "flag", reason: "hate" }],
  ["sexual/minors", { severity: "critical", outcome: "hide", reason: "sexual_content" }],
  ["sexual", { severity: "medium", outcome: "flag", reason: "sexual_content" }],
  ["violence/graphic", { severity: "medium", outcome: "flag", reason: "violence" }],
  ["illicit", illicit],
  ["illicit/violent", illicit],
]);

/**
 * A category the provider added after this table: its parent's mapping ("self-harm/new" is
 * self-harm), else flagged for a moderator to look at.
 */
function mappingOf(category: string): Mapping {
  return (
    mappings.get(category) ??
    mappings.get(category.split("/")[0] ?? "") ?? {
      severity: "medium",
      outcome: "flag",
      reason: "other",
    }
  );
}

const severityRank: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** One match per category at or above `threshold`, or flagged; the most severe first. */
export function matchesOf(result: ModerationResult, threshold: number): MatchResult[] {
  const scores = new Map(Object.entries(result.category_scores));
  const flagged = new Map(Object.entries(result.categories));
  const categories = new Set([...scores.keys(), ...flagged.keys()]);
  const matches: MatchResult[] = [];
  for (const category of [...categories].sort()) {
    const score = scores.get(category) ?? 0;
    const isFlagged = flagged.get(category) === true;
    if (score < threshold && !isFlagged) continue;
    const detail = `${category} score ${score.toFixed(2)}${score < threshold ? " (flagged)" : ""}`;
    matches.push({ ruleId: `classifier:${category}`, ...mappingOf(category), detail });
  }
  return matches.sort((a, b) => severityRank[a.severity] - severityRank[b.severity]);
}

/** At most `max` UTF-16 units, without splitting a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** The classifier is unreachable or overloaded: counts towards its circuit breaker. */
function isOutage(err: unknown): boolean {
  if (!(err instanceof OutboundCallError)) return false;
  if (err.kind === "timeout" || err.kind === "network") return true;
  return (
    err.kind === "http" && err.status !== undefined && (err.status === 429 || err.status >= 500)
  );
}

interface Failure {
  reason: string;
  outcome: ClassifierOutcome;
  level: "debug" | "warn" | "error";
}

function failureOf(err: unknown): Failure {
  const cause = err instanceof DependencyUnavailableError ? err.cause : err;
  if (cause instanceof OutboundCallError) {
    const { kind, status = 0 } = cause;
    const outcome: ClassifierOutcome =
      kind === "timeout"
        ? "timeout"
        : kind === "network"
          ? "network_error"
          : kind === "invalid_response"
            ? "invalid_response"
            : status === 429
              ? "rate_limited"
              : status >= 500
                ? "server_error"
                : "client_error";
    // A refused request (bad key, bad model) or an unreadable answer will not mend itself.
    const level = outcome === "client_error" || outcome === "invalid_response" ? "error" : "warn";
    return { reason: cause.reason, outcome, level };
  }
  if (err instanceof DependencyUnavailableError) {
    // The breaker logged when it opened; one line per text while it stays open is noise.
    return { reason: "circuit open", outcome: "circuit_open", level: "debug" };
  }
  return { reason: "unexpected error", outcome: "error", level: "error" };
}

/**
 * A client of a classifier speaking the OpenAI moderation API. Transient failures (network,
 * timeout, 429, 5xx) are retried with backoff (classification is a read), behind a circuit
 * breaker that fails fast while the classifier is down. Neither the text nor the API key is
 * ever logged.
 */
export function createClassifier(options: ClassifierOptions): Classifier {
  const endpoint = new URL(options.endpoint).href;
  if (options.apiKey === "") throw new TypeError("the classifier's API key is empty");
  const model = options.model ?? defaults.model;
  const threshold = options.threshold ?? defaults.threshold;
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
  const maxInputChars = options.maxInputChars ?? defaults.maxInputChars;
  const retry = options.retry ?? defaults.retry;
  if (!(threshold > 0 && threshold <= 1)) {
    throw new RangeError(`classifier threshold must be in (0, 1], got ${threshold}`);
  }
  if (!(timeoutMs > 0)) throw new RangeError("classifier timeoutMs must be > 0");
  if (!(Number.isInteger(maxInputChars) && maxInputChars >= 1)) {
    throw new RangeError("classifier maxInputChars must be an integer >= 1");
  }
  const { logger } = options;
  const headers = { authorization: `Bearer ${options.apiKey}` };
  const metrics = classifierMetrics(options.registry);

  const policy = createResiliencePolicy({
    name: dependency,
    isOutage,
    // A 429 asking for a longer wait than our longest backoff: retrying now only earns another
    // 429, so give up at once (it still counts towards the breaker, which stops the hammering).
    isTransient: (err) =>
      isOutage(err) && ((err as OutboundCallError).retryAfterMs ?? 0) <= retry.maxDelayMs,
    retry,
    breaker: options.breaker ?? defaults.breaker,
    logger,
  });
  const stateValue = { closed: 0, "half-open": 1, open: 2 } as const;
  metrics.circuitState.set(stateValue[policy.state]);
  policy.onStateChange((state) => metrics.circuitState.set(stateValue[state]));

  async function attempt(
    body: { model: string; input: string },
    signal: AbortSignal,
    isLast: boolean,
  ): Promise<MatchResult[]> {
    const reply = await postJson(endpoint, body, { headers, timeoutMs, signal });
    if (reply.status < 200 || reply.status >= 300) {
      const wait =
        reply.status === 429 ? retryAfterMs(reply.headers.get("retry-after")) : undefined;
      // Sit out the wait asked for (the policy adds its own backoff on top), so the retry does
      // not arrive early and get refused again.
      if (wait !== undefined && wait <= retry.maxDelayMs && !isLast) {
        await sleep(wait, undefined, { signal });
      }
      throw new OutboundCallError("http", `classifier answered HTTP ${reply.status}`, {
        status: reply.status,
        retryAfterMs: wait,
      });
    }
    const parsed = moderationResponse.safeParse(parseJsonBody(reply.text));
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
      throw new OutboundCallError("invalid_response", `unexpected response: ${where.join("; ")}`);
    }
    const [result] = parsed.data.results;
    return result === undefined ? [] : matchesOf(result, threshold);
  }

  return {
    async classify(text, signal) {
      const body = { model, input: truncate(text, maxInputChars) };
      const stopTimer = metrics.duration.startTimer();
      let attempts = 0;
      try {
        const matches = await policy.execute(
          (attemptSignal) => {
            attempts++;
            return attempt(body, attemptSignal, attempts >= retry.maxAttempts);
          },
          { idempotent: true, signal },
        );
        metrics.requests.inc({ outcome: "ok" });
        return { status: "ok", matches };
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const failure = failureOf(err);
        metrics.requests.inc({ outcome: failure.outcome });
        logger[failure.level](
          { dependency, reason: failure.reason, attempts, err },
          "moderation classifier unavailable: rules apply without it",
        );
        return { status: "unavailable", reason: failure.reason };
      } finally {
        stopTimer();
      }
    },
  };
}
