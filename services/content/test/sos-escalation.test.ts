import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { contentEvents } from "@kindred/event-catalog";
import { EscalationStage, type SosAlert, SosStatus } from "@kindred/proto/content/v1";
import { waitFor } from "@kindred/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobNames } from "../src/app.ts";
import { ContentHarness, newId, type TestCircle } from "./harness.ts";

/**
 * Re-escalation: the job runs every 100 ms and an alert nobody acknowledged moves one stage per
 * second (SOS_ACK_TIMEOUT_SECONDS=1), each step a `content.sos.escalated.v1` on JetStream.
 */

const ackTimeoutMs = 1_000;
let h: ContentHarness;
let circle: TestCircle;
const owner = newId();
const member = newId();

beforeAll(async () => {
  h = await ContentHarness.start({
    env: { SOS_ACK_TIMEOUT_SECONDS: "1", SOS_ESCALATION_CHECK_MS: "100" },
  });
  circle = await h.createCircle(owner);
  await circle.join(member);
});
afterAll(() => h?.[Symbol.asyncDispose]());

async function raise(): Promise<string> {
  const raiser = newId();
  await circle.join(raiser);
  return (await h.support.raiseSos({ circleId: circle.id }, await h.as(raiser))).alert?.id ?? "";
}

async function get(alertId: string): Promise<SosAlert> {
  const { alert } = await h.support.getSos({ alertId }, await h.as(member));
  if (alert === undefined) throw new Error("no alert");
  return alert;
}

const reached = (alertId: string, stage: EscalationStage) =>
  waitFor(async () => ((await get(alertId)).escalationStage === stage ? true : undefined), {
    what: `alert ${alertId} at stage ${EscalationStage[stage]}`,
    timeoutMs: 10_000,
  });

const millisOf = (t: Timestamp | undefined): number => {
  if (t === undefined) throw new Error("no timestamp");
  return timestampDate(t).getTime();
};

/** The escalations of an alert on JetStream, in stream order. */
async function escalations(alertId: string) {
  return (await h.contentEvents())
    .filter(
      (e) =>
        e.subject === contentEvents.sosEscalated.subject &&
        e.header("Kindred-Aggregate-Id") === alertId,
    )
    .map((e) => e.decode(contentEvents.sosEscalated));
}

describe("SOS re-escalation", () => {
  it("escalates an unanswered alert one stage per timeout, in order, until acknowledged or resolved", async () => {
    const unanswered = await raise();
    const answeredAtOnce = await raise();
    const answeredLate = await raise();
    const resolvedLate = await raise();
    const asMember = await h.as(member);
    await h.support.acknowledgeSos({ alertId: answeredAtOnce }, asMember);

    await reached(answeredLate, EscalationStage.SECOND_WAVE);
    expect((await get(answeredLate)).status).toBe(SosStatus.ESCALATED);
    const late = (await h.support.acknowledgeSos({ alertId: answeredLate }, asMember)).alert;
    expect(late).toMatchObject({
      status: SosStatus.ACKNOWLEDGED,
      escalationStage: EscalationStage.SECOND_WAVE,
    });
    await reached(resolvedLate, EscalationStage.SECOND_WAVE);
    await h.support.resolveSos({ alertId: resolvedLate }, await h.as(owner));

    await reached(unanswered, EscalationStage.PLATFORM_ON_CALL);
    expect((await get(unanswered)).status).toBe(SosStatus.ESCALATED);
    // The last stage is final: a run now finds nothing due (the acknowledged and resolved
    // alerts have been past their timeout for seconds).
    const run = await waitFor(
      async () => {
        const result = await h.app.jobs.runNow(jobNames.escalation);
        return result.outcome === "skipped" ? undefined : result;
      },
      { what: "a run of the escalation job" },
    );
    expect(run).toMatchObject({ outcome: "ok", items: { escalated: 0 } });

    const steps = await escalations(unanswered);
    expect(steps.map((s) => s.stage)).toEqual([
      EscalationStage.SECOND_WAVE,
      EscalationStage.CIRCLE_MODERATORS,
      EscalationStage.PLATFORM_ON_CALL,
    ]);
    const alert = await get(unanswered);
    expect(steps[0]).toMatchObject({
      alertId: unanswered,
      circleId: circle.id,
      raisedBy: alert.raisedBy,
    });
    // One stage per timeout: each step at least a timeout after the one before.
    const times = [alert.createdAt, ...steps.map((s) => s.escalatedAt)].map(millisOf);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(ackTimeoutMs - 1);
    expect(alert).toMatchObject({
      status: SosStatus.ESCALATED,
      escalationStage: EscalationStage.PLATFORM_ON_CALL,
    });

    expect(await escalations(answeredAtOnce)).toEqual([]);
    expect(await get(answeredAtOnce)).toMatchObject({
      status: SosStatus.ACKNOWLEDGED,
      escalationStage: EscalationStage.CIRCLE,
    });
    expect((await escalations(answeredLate)).map((s) => s.stage)).toEqual([
      EscalationStage.SECOND_WAVE,
    ]);
    expect((await escalations(resolvedLate)).map((s) => s.stage)).toEqual([
      EscalationStage.SECOND_WAVE,
    ]);
    expect(await get(resolvedLate)).toMatchObject({
      status: SosStatus.RESOLVED,
      escalationStage: EscalationStage.SECOND_WAVE,
    });

    // Run by the scheduler, under its lock, and counted.
    const metrics = await h.metrics();
    const ok = metrics.match(
      new RegExp(
        `kindred_job_runs_total\\{[^}]*job="${jobNames.escalation}",outcome="ok"[^}]*\\} (\\d+)`,
      ),
    );
    expect(Number(ok?.[1] ?? 0)).toBeGreaterThan(5);
    expect(metrics).toMatch(
      new RegExp(
        `kindred_job_items_total\\{[^}]*job="${jobNames.escalation}",kind="escalated"[^}]*\\} 5`,
      ),
    );
  });
});
