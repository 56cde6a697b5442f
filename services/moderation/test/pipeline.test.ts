import { randomUUID } from "node:crypto";
import { moderationEvents } from "@kindred/event-catalog";
import { CasePriority, CaseScope } from "@kindred/proto/moderation/events/v1";
import { CaseStatus, MatchSource, Priority, RuleOutcome } from "@kindred/proto/moderation/v1";
import { waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { startModeration } from "./harness.ts";
import { FakeClassifier } from "./outbound/fake-classifier.ts";
import { FakePagerDuty } from "./outbound/fake-pagerduty.ts";

const routingKey = "R0UT1NGKEY0F32CHARACTERSXXXXXXX".padEnd(32, "X").slice(0, 32);

describe("the automatic pipeline", () => {
  it("flags a self-harm post critical, at platform scope, and pages on-call moderators at once", async () => {
    await using pager = await FakePagerDuty.start({ routingKey });
    await using mod = await startModeration({
      PAGER_URL: pager.url,
      PAGER_ROUTING_KEY: routingKey,
    });
    const author = randomUUID();
    const circleId = await mod.circle(randomUUID());
    const routine = await mod.post(circleId, author, "you idiot, that is not how it works");
    const crisis = await mod.post(circleId, author, "I want to k1ll   mys3lf tonight");

    const platform = await mod.user(["moderator"]);
    const { cases } = await platform.m.listQueue({});
    // The crisis jumps the queue although it came later.
    expect(cases.map((c) => [c.target?.id, c.priority, c.scope])).toEqual([
      [crisis, Priority.CRITICAL, 2],
      [routine, Priority.NORMAL, 1],
    ]);
    const [opened] = (await mod.events(moderationEvents.caseOpened)).filter(
      (e) => e.target?.id === crisis,
    );
    expect(opened).toMatchObject({
      priority: CasePriority.CRITICAL,
      scope: CaseScope.PLATFORM,
      reason: "self_harm",
      target: { id: crisis, postId: crisis, circleId, userId: author },
    });
    await waitFor(() => (pager.events.length > 0 ? true : undefined), { what: "the page" });
    expect(pager.events).toHaveLength(1);
    expect(pager.events[0]).toMatchObject({
      routing_key: routingKey,
      event_action: "trigger",
      dedup_key: opened?.caseId,
      payload: { severity: "critical" },
    });
    // Nobody's words leave Kindred in a page.
    expect(pager.requests[0]?.raw).not.toContain("mys3lf");

    const { case: detail } = await platform.m.getCase({ caseId: opened?.caseId ?? "" });
    expect(detail?.snapshot).toMatchObject({
      userId: author,
      circleId,
      text: "I want to k1ll   mys3lf tonight",
    });
    expect(detail?.ruleMatches.map((m) => [m.ruleId, m.source, m.outcome])).toContainEqual([
      "self-harm-intent",
      MatchSource.RULE,
      RuleOutcome.FLAG,
    ]);
    // Crisis content is flagged, never hidden: the circle must still see and answer it.
    expect(await mod.events(moderationEvents.contentHidden)).toEqual([]);
  });

  it("hides what a hide rule matches (here a response), and leaves a clean post alone", async () => {
    await using mod = await startModeration();
    const author = randomUUID();
    const circleId = await mod.circle(randomUUID());
    const postId = await mod.post(circleId, author, "a calm post about sleep");
    expect(await mod.events(moderationEvents.caseOpened)).toEqual([]);
    const responseId = await mod.response(
      circleId,
      postId,
      randomUUID(),
      "free stuff at bit.ly/xyz",
    );
    const [hidden] = await mod.events(moderationEvents.contentHidden);
    expect(hidden).toMatchObject({
      target: { id: responseId, postId, circleId },
      ruleIds: ["url-shortener"],
    });
    const [opened] = await mod.events(moderationEvents.caseOpened);
    expect(opened?.caseId).toBe(hidden?.caseId);
  });

  it("still applies the rules when the classifier is down, and the case says so", async () => {
    await using classifier = await FakeClassifier.start({ apiKey: "sk-test" });
    classifier.failNext(50, 503);
    await using mod = await startModeration({
      CLASSIFIER_URL: classifier.endpoint,
      CLASSIFIER_API_KEY: "sk-test",
      CLASSIFIER_TIMEOUT_MS: "200",
    });
    const circleId = await mod.circle(randomUUID());
    const postId = await mod.post(circleId, randomUUID(), "honestly you moron, read the rules");
    const platform = await mod.user(["admin"]);
    const { cases } = await platform.m.listQueue({});
    expect(cases.map((c) => c.target?.id)).toEqual([postId]);
    const { case: detail } = await platform.m.getCase({ caseId: cases[0]?.id ?? "" });
    const note = detail?.ruleMatches.find((m) => m.ruleId === "classifier");
    expect(note?.detail).toMatch(/classifier unavailable \(.+\): rules only/);
    expect(detail?.ruleMatches.some((m) => m.ruleId === "insults")).toBe(true);
    expect(classifier.requestCount).toBeGreaterThan(0);
  });

  it("opens a case from the classifier's scores when the rules see nothing", async () => {
    await using classifier = await FakeClassifier.start({ apiKey: "sk-test" });
    classifier.scoreWhen("quiet words", { "self-harm/intent": 0.97 });
    await using mod = await startModeration({
      CLASSIFIER_URL: classifier.endpoint,
      CLASSIFIER_API_KEY: "sk-test",
    });
    const circleId = await mod.circle(randomUUID());
    const postId = await mod.post(
      circleId,
      randomUUID(),
      "some quiet words nobody else would catch",
    );
    const platform = await mod.user(["moderator"]);
    const { cases } = await platform.m.listQueue({});
    expect(cases).toHaveLength(1);
    expect(cases[0]).toMatchObject({
      target: { id: postId },
      priority: Priority.CRITICAL,
      status: CaseStatus.OPEN,
    });
    const { case: detail } = await platform.m.getCase({ caseId: cases[0]?.id ?? "" });
    expect(detail?.ruleMatches.map((m) => [m.ruleId, m.source])).toContainEqual([
      "classifier:self-harm/intent",
      MatchSource.CLASSIFIER,
    ]);
    expect(classifier.requests[0]?.authorization).toBe("Bearer sk-test");
  });
});
