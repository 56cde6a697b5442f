import { inspect } from "node:util";
import { closedPort, recordingLogger } from "@kindred/testing";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ClassifierOptions,
  createClassifier,
  matchesOf,
} from "../../src/outbound/classifier.ts";
import { retryAfterMs } from "../../src/outbound/http.ts";
import { FakeClassifier } from "./fake-classifier.ts";

const apiKey = "sk-test-0123456789";

let fake: FakeClassifier;
let logger: ReturnType<typeof recordingLogger>;
let registry: Registry;

beforeEach(async () => {
  fake = await FakeClassifier.start({ apiKey });
  logger = recordingLogger();
  registry = new Registry();
});

afterEach(async () => {
  vi.useRealTimers();
  await fake.close();
});

function classifier(overrides: Partial<ClassifierOptions> = {}) {
  return createClassifier({
    endpoint: fake.endpoint,
    apiKey,
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
    breaker: { consecutiveFailures: 10, halfOpenAfterMs: 1_000 },
    logger,
    registry,
    ...overrides,
  });
}

async function metricValues(name: string) {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (await metric.get()).values;
}

async function requestsByOutcome(): Promise<Record<string, number>> {
  const values = await metricValues("kindred_moderation_classifier_requests_total");
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

async function circuitState(): Promise<number | undefined> {
  return (await metricValues("kindred_moderation_classifier_circuit_state"))[0]?.value;
}

describe("mapping scores to matches", () => {
  it("matches each category at or above the threshold, with its score", async () => {
    fake.scoreWhen("worthless", { harassment: 0.93, hate: 0.2 });
    const result = await classifier().classify("you are worthless");
    expect(result).toEqual({
      status: "ok",
      matches: [
        {
          ruleId: "classifier:harassment",
          severity: "medium",
          outcome: "flag",
          reason: "harassment",
          detail: "harassment score 0.93",
        },
      ],
    });
  });

  it("returns no matches for a clean text", async () => {
    await expect(classifier().classify("good morning, circle")).resolves.toEqual({
      status: "ok",
      matches: [],
    });
  });

  it("uses the configured threshold, inclusive", async () => {
    fake
      .scoreWhen("fight", { violence: 0.4 })
      .scoreWhen("rude", { harassment: 0.3 })
      .scoreWhen("slur", { hate: 0.29 });
    const strict = classifier({ threshold: 0.3 });
    const fight = await strict.classify("a fight");
    expect(fight.status === "ok" && fight.matches.map((m) => m.ruleId)).toEqual([
      "classifier:violence",
    ]);
    const rude = await strict.classify("rude");
    expect(rude.status === "ok" && rude.matches.map((m) => m.detail)).toEqual([
      "harassment score 0.30",
    ]);
    await expect(strict.classify("slur")).resolves.toEqual({ status: "ok", matches: [] });
    // The default threshold is 0.5.
    await expect(classifier().classify("a fight")).resolves.toEqual({ status: "ok", matches: [] });
  });

  it("flags self-harm as critical and never hides it", async () => {
    fake.scoreWhen("end it all", { "self-harm": 0.91, "self-harm/intent": 0.88 });
    const result = await classifier().classify("I want to end it all");
    expect(result).toEqual({
      status: "ok",
      matches: [
        {
          ruleId: "classifier:self-harm",
          severity: "critical",
          outcome: "flag",
          reason: "self_harm",
          detail: "self-harm score 0.91",
        },
        {
          ruleId: "classifier:self-harm/intent",
          severity: "critical",
          outcome: "flag",
          reason: "self_harm",
          detail: "self-harm/intent score 0.88",
        },
      ],
    });
  });

  it("hides sexual content involving minors, the most severe first", async () => {
    fake.scoreWhen("abuse", { "sexual/minors": 0.97, sexual: 0.9, "violence/graphic": 0.6 });
    const result = await classifier().classify("abuse material");
    expect(result.status === "ok" && result.matches).toEqual([
      {
        ruleId: "classifier:sexual/minors",
        severity: "critical",
        outcome: "hide",
        reason: "sexual_content",
        detail: "sexual/minors score 0.97",
      },
      {
        ruleId: "classifier:sexual",
        severity: "medium",
        outcome: "flag",
        reason: "sexual_content",
        detail: "sexual score 0.90",
      },
      {
        ruleId: "classifier:violence/graphic",
        severity: "medium",
        outcome: "flag",
        reason: "violence",
        detail: "violence/graphic score 0.60",
      },
    ]);
  });

  it("matches a category the classifier flags below the threshold", async () => {
    fake.scoreWhen("threat", { "harassment/threatening": 0.31 }, { flagged: ["hate/threatening"] });
    const result = await classifier().classify("a threat");
    expect(result.status === "ok" && result.matches).toEqual([
      {
        ruleId: "classifier:hate/threatening",
        severity: "high",
        outcome: "flag",
        reason: "hate",
        detail: "hate/threatening score 0.00 (flagged)",
      },
    ]);
  });

  it("maps every known category, and new ones by their parent or as other", () => {
    const scores = {
      "harassment/threatening": 0.9,
      violence: 0.9,
      illicit: 0.9,
      "illicit/violent": 0.9,
      "self-harm/new-kind": 0.9,
      "brand-new": 0.9,
    };
    const byCategory = Object.fromEntries(
      matchesOf({ flagged: true, categories: {}, category_scores: scores }, 0.5).map((m) => [
        m.ruleId,
        [m.severity, m.outcome, m.reason],
      ]),
    );
    expect(byCategory).toEqual({
      "classifier:harassment/threatening": ["high", "flag", "harassment"],
      "classifier:violence": ["high", "flag", "violence"],
      "classifier:illicit": ["medium", "flag", "other"],
      "classifier:illicit/violent": ["medium", "flag", "other"],
      "classifier:self-harm/new-kind": ["critical", "flag", "self_harm"],
      "classifier:brand-new": ["medium", "flag", "other"],
    });
  });

  it("does not mistake inherited property names for categories", () => {
    const matches = matchesOf(
      { flagged: true, categories: { constructor: true }, category_scores: { toString: 0.9 } },
      0.5,
    );
    expect(matches.map((m) => [m.ruleId, m.reason])).toEqual([
      ["classifier:constructor", "other"],
      ["classifier:toString", "other"],
    ]);
  });
});

describe("the request", () => {
  it("sends the model and text as JSON with the API key as a bearer token", async () => {
    await classifier({ model: "omni-moderation-2024-09-26" }).classify("hello");
    expect(fake.requests).toEqual([
      {
        authorization: `Bearer ${apiKey}`,
        contentType: "application/json",
        body: { model: "omni-moderation-2024-09-26", input: "hello" },
      },
    ]);
  });

  it("cuts long texts to the configured length, never inside a surrogate pair", async () => {
    const c = classifier({ maxInputChars: 10 });
    await c.classify("0123456789abcdef");
    await c.classify("012345678😀tail");
    await c.classify("short");
    expect(fake.requests.map((r) => (r.body as { input: string }).input)).toEqual([
      "0123456789",
      "012345678",
      "short",
    ]);
  });

  it("cuts at 10 000 characters by default", async () => {
    await classifier().classify("x".repeat(12_000));
    expect(fake.requests[0]?.body).toEqual({
      model: "omni-moderation-latest",
      input: "x".repeat(10_000),
    });
  });
});

describe("failures", () => {
  it("retries after a 503 and returns the classification", async () => {
    fake.failNext(1, 503).scoreWhen("hate", { hate: 0.8 });
    const result = await classifier().classify("hate");
    expect(result.status === "ok" && result.matches.map((m) => m.ruleId)).toEqual([
      "classifier:hate",
    ]);
    expect(fake.requestCount).toBe(2);
    expect(await requestsByOutcome()).toEqual({ ok: 1 });
  });

  it("gives up after maxAttempts with the last status as the reason", async () => {
    fake.failNext(5, 503);
    await expect(classifier().classify("text")).resolves.toEqual({
      status: "unavailable",
      reason: "HTTP 503",
    });
    expect(fake.requestCount).toBe(3);
    expect(await requestsByOutcome()).toEqual({ server_error: 1 });
  });

  it("retries a 429 without Retry-After", async () => {
    fake.failNext(2, 429);
    await expect(classifier().classify("text")).resolves.toEqual({ status: "ok", matches: [] });
    expect(fake.requestCount).toBe(3);
  });

  it("does not retry a 429 that asks for a longer wait than the longest backoff", async () => {
    fake.failNext(1, 429, { "retry-after": "60" });
    await expect(classifier().classify("text")).resolves.toEqual({
      status: "unavailable",
      reason: "HTTP 429",
    });
    expect(fake.requestCount).toBe(1);
    expect(await requestsByOutcome()).toEqual({ rate_limited: 1 });
  });

  it("returns unavailable with reason timeout when the classifier does not answer", async () => {
    fake.hangNext(2);
    const c = classifier({
      timeoutMs: 100,
      retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    });
    await expect(c.classify("text")).resolves.toEqual({ status: "unavailable", reason: "timeout" });
    expect(fake.requestCount).toBe(2);
    expect(await requestsByOutcome()).toEqual({ timeout: 1 });
  });

  it("returns unavailable when nothing listens", async () => {
    const c = classifier({ endpoint: `http://127.0.0.1:${await closedPort()}/v1/moderations` });
    await expect(c.classify("text")).resolves.toEqual({
      status: "unavailable",
      reason: "network error",
    });
    expect(await requestsByOutcome()).toEqual({ network_error: 1 });
  });

  it("does not retry a 401, and logs it as an error", async () => {
    const c = classifier({ apiKey: "sk-wrong-key" });
    await expect(c.classify("text")).resolves.toEqual({
      status: "unavailable",
      reason: "HTTP 401",
    });
    expect(fake.requestCount).toBe(1);
    expect(await requestsByOutcome()).toEqual({ client_error: 1 });
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "error",
        obj: expect.objectContaining({ reason: "HTTP 401" }),
      }),
    );
  });

  it.each([
    ["a wrong shape", { id: "modr-1", model: "m", results: [{ flagged: "yes" }] }],
    [
      "a score out of range",
      {
        id: "modr-1",
        model: "m",
        results: [{ flagged: false, categories: {}, category_scores: { hate: 7 } }],
      },
    ],
    ["no result", { id: "modr-1", model: "m", results: [] }],
    ["not JSON", "<html>gateway</html>"],
  ])("returns unavailable, without retrying, for %s", async (_, body) => {
    fake.respondNext(1, body);
    await expect(classifier().classify("text")).resolves.toEqual({
      status: "unavailable",
      reason: "invalid response",
    });
    expect(fake.requestCount).toBe(1);
    expect(await requestsByOutcome()).toEqual({ invalid_response: 1 });
  });

  it("rejects with the caller's reason when the caller aborts", async () => {
    fake.hangNext(1);
    const controller = new AbortController();
    const result = classifier().classify("text", controller.signal);
    await fake.received(1);
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
  });

  it("never logs the text or the API key", async () => {
    const text = "my secret diary entry";
    fake.failNext(1, 503).failNext(1, 500).respondNext(1, { nonsense: true });
    const c = classifier({ retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 } });
    await c.classify(text);
    await c.classify(text);
    await classifier({ apiKey: "sk-wrong-key" }).classify(text);
    const logged = inspect(logger.entries, { depth: 20 });
    expect(logger.entries.length).toBeGreaterThan(0);
    expect(logged).not.toContain("diary");
    expect(logged).not.toContain("sk-");
  });
});

describe("circuit breaker", () => {
  it("opens after consecutive failures, fails fast, and half-opens after the delay", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const c = classifier({
      retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 5_000 },
    });
    expect(await circuitState()).toBe(0);
    fake.failNext(2, 503);
    for (let i = 0; i < 2; i++) {
      await expect(c.classify("text")).resolves.toEqual({
        status: "unavailable",
        reason: "HTTP 503",
      });
    }
    expect(await circuitState()).toBe(2);

    await expect(c.classify("text")).resolves.toEqual({
      status: "unavailable",
      reason: "circuit open",
    });
    expect(fake.requestCount).toBe(2);

    vi.advanceTimersByTime(4_999);
    await expect(c.classify("text")).resolves.toMatchObject({ reason: "circuit open" });
    expect(fake.requestCount).toBe(2);

    vi.advanceTimersByTime(1);
    await expect(c.classify("text")).resolves.toEqual({ status: "ok", matches: [] });
    expect(fake.requestCount).toBe(3);
    expect(await circuitState()).toBe(0);
    expect(await requestsByOutcome()).toEqual({ server_error: 2, circuit_open: 2, ok: 1 });
    expect(logger.entries.map((e) => e.msg)).toEqual(
      expect.arrayContaining([
        "moderation-classifier circuit opened: failing fast",
        "moderation-classifier circuit half-open: probing",
        "moderation-classifier circuit closed: dependency answers again",
      ]),
    );
  });

  it("is not opened by refused requests, which prove the classifier answers", async () => {
    const c = classifier({
      apiKey: "sk-wrong-key",
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 5_000 },
    });
    for (let i = 0; i < 3; i++) {
      await expect(c.classify("text")).resolves.toMatchObject({ reason: "HTTP 401" });
    }
    expect(fake.requestCount).toBe(3);
    expect(await circuitState()).toBe(0);
  });
});

describe("options", () => {
  it.each([
    { endpoint: "not a url" },
    { apiKey: "" },
    { threshold: 0 },
    { threshold: 1.5 },
    { timeoutMs: 0 },
    { maxInputChars: 0 },
  ])("refuses %o", (overrides) => {
    expect(() => classifier(overrides)).toThrow();
  });
});

describe("retryAfterMs", () => {
  it("reads seconds and HTTP dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterMs("3", now)).toBe(3_000);
    expect(retryAfterMs("Wed, 01 Jan 2025 00:00:10 GMT", now)).toBe(10_000);
    expect(retryAfterMs("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});
