import { inspect } from "node:util";
import { DependencyUnavailableError } from "@kindred/errors";
import { PermanentFailure } from "@kindred/events";
import { closedPort, recordingLogger } from "@kindred/testing";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  caseAlert,
  createPager,
  type PageAlert,
  type PagerOptions,
} from "../../src/outbound/pager.ts";
import { FakePagerDuty } from "./fake-pagerduty.ts";

const routingKey = "0123456789abcdef0123456789abcdef";
const now = new Date("2025-03-04T05:06:07.089Z");

let fake: FakePagerDuty;
let logger: ReturnType<typeof recordingLogger>;
let registry: Registry;

beforeEach(async () => {
  fake = await FakePagerDuty.start({ routingKey });
  logger = recordingLogger();
  registry = new Registry();
});

afterEach(async () => {
  await fake.close();
});

function pager(overrides: Partial<PagerOptions> = {}) {
  return createPager({
    baseUrl: fake.url,
    routingKey,
    caseUrlBase: "https://mod.kindred.example/cases/",
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
    breaker: { consecutiveFailures: 10, halfOpenAfterMs: 1_000 },
    logger,
    registry,
    now: () => now,
    ...overrides,
  });
}

const alert: PageAlert = {
  caseId: "case-7f3a",
  summary: "Moderation case case-7f3a: self_harm (priority urgent)",
  severity: "critical",
  circleId: "circle-42",
  reason: "self_harm",
  details: { rule_ids: "classifier:self-harm,kw:crisis", priority: "urgent" },
};

async function pagesByOutcome(): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric("kindred_moderation_pages_total");
  const values = (await metric?.get())?.values ?? [];
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

describe("page", () => {
  it("sends a PagerDuty Events v2 trigger keyed by the case", async () => {
    await pager().page(alert);
    expect(fake.events).toEqual([
      {
        routing_key: routingKey,
        event_action: "trigger",
        dedup_key: "case-7f3a",
        payload: {
          summary: "Moderation case case-7f3a: self_harm (priority urgent)",
          source: "kindred-moderation",
          severity: "critical",
          timestamp: "2025-03-04T05:06:07.089Z",
          component: "moderation",
          group: "circle-42",
          class: "self_harm",
          custom_details: {
            rule_ids: "classifier:self-harm,kw:crisis",
            priority: "urgent",
            case_id: "case-7f3a",
            reason: "self_harm",
          },
        },
        links: [{ href: "https://mod.kindred.example/cases/case-7f3a", text: "Open case" }],
      },
    ]);
    expect(await pagesByOutcome()).toEqual({ sent: 1 });
  });

  it("groups a platform-wide case under platform, and leaves out links without a case URL", async () => {
    const { circleId: _, ...platformAlert } = alert;
    await pager({ caseUrlBase: undefined }).page(platformAlert);
    const [event] = fake.events as { payload: { group: string }; links?: unknown }[];
    expect(event?.payload.group).toBe("platform");
    expect(event).not.toHaveProperty("links");
  });

  it("cuts the summary to 1024 characters", async () => {
    await pager().page({ ...alert, summary: "x".repeat(2_000) });
    const [event] = fake.events as { payload: { summary: string } }[];
    expect(event?.payload.summary).toHaveLength(1024);
  });

  it("pages the same case twice under the same dedup key", async () => {
    const p = pager();
    await p.page(alert);
    await p.page(alert);
    expect(fake.events.map((e) => (e as { dedup_key: string }).dedup_key)).toEqual([
      "case-7f3a",
      "case-7f3a",
    ]);
  });

  it("retries after a 500 and succeeds", async () => {
    fake.failNext(1, 500);
    await pager().page(alert);
    expect(fake.requestCount).toBe(2);
    expect(fake.events).toHaveLength(1);
    expect(await pagesByOutcome()).toEqual({ sent: 1 });
  });

  it("retries a 429", async () => {
    fake.failNext(2, 429);
    await pager().page(alert);
    expect(fake.requestCount).toBe(3);
  });

  it("throws a retryable error when PagerDuty stays down, for the consumer to redeliver", async () => {
    fake.failNext(3, 503);
    const err = await pager()
      .page(alert)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect(err).not.toBeInstanceOf(PermanentFailure);
    expect(fake.requestCount).toBe(3);
    expect(await pagesByOutcome()).toEqual({ failed: 1 });
  });

  it("throws a retryable error when PagerDuty cannot be reached", async () => {
    const p = pager({ baseUrl: `http://127.0.0.1:${await closedPort()}` });
    await expect(p.page(alert)).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it("throws PermanentFailure, without retrying, when PagerDuty refuses the event", async () => {
    const p = pager({ routingKey: "too-short" });
    const err = await p.page(alert).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentFailure);
    expect((err as Error).message).toContain("routing_key");
    expect(fake.requestCount).toBe(1);
    expect(await pagesByOutcome()).toEqual({ rejected: 1 });
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "error",
        obj: expect.objectContaining({ caseId: "case-7f3a" }),
      }),
    );
  });

  it("does not retry nor dead-letter a refusal of our configuration (404)", async () => {
    const p = pager({ baseUrl: `${fake.url}/wrong-prefix` });
    const err = await p.page(alert).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentFailure);
    expect(err).not.toBeInstanceOf(DependencyUnavailableError);
    expect(fake.requestCount).toBe(1);
  });

  it("never logs the routing key", async () => {
    fake.failNext(1, 500);
    await pager().page(alert);
    await pager({ routingKey: "too-short" })
      .page(alert)
      .catch(() => undefined);
    expect(inspect(logger.entries, { depth: 20 })).not.toContain(routingKey);
  });
});

describe("caseAlert", () => {
  it("builds a page from ids, reason, rule ids and priority only: no post text", async () => {
    const postText = "I can't go on, here is my address: 12 Elm Street";
    const moderationCase = {
      caseId: "case-1",
      reason: "self_harm",
      ruleIds: ["classifier:self-harm", "kw:crisis"],
      severity: "critical" as const,
      priority: "urgent",
      circleId: "circle-9",
      postText,
      authorName: "Robin",
    };
    const built = caseAlert(moderationCase);
    expect(built).toEqual({
      caseId: "case-1",
      summary: "Moderation case case-1: self_harm (priority urgent)",
      severity: "critical",
      circleId: "circle-9",
      reason: "self_harm",
      details: { rule_ids: "classifier:self-harm,kw:crisis", priority: "urgent" },
    });
    await pager().page(built);
    const [request] = fake.requests;
    expect(request?.raw).toContain("case-1");
    expect(request?.raw).not.toContain("Elm Street");
    expect(request?.raw).not.toContain("go on");
    expect(request?.raw).not.toContain("Robin");
  });
});

describe("options", () => {
  it.each([{ baseUrl: "nope" }, { routingKey: "" }])("refuses %o", (overrides) => {
    expect(() => pager(overrides)).toThrow();
  });
});
