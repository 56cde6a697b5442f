import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  contentEvents,
  contentStream,
  identityEvents,
  identityStream,
} from "@kindred/event-catalog";
import { EscalationStage } from "@kindred/proto/content/v1";
import { NotificationKind } from "@kindred/proto/notifier/v1";
import { waitFor } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { type NotifierHarness, quietNow, startNotifier } from "./harness.ts";

const words = "I can't do this anymore, I'm at the bridge on 5th";

/** A circle: owner, one moderator, four members (one of whom raises), one who left. */
async function circleOf(h: NotifierHarness) {
  const [owner, moderator, raiser, a, b, c, gone] = await Promise.all([
    h.user(),
    h.user(),
    h.user(),
    h.user(),
    h.user(),
    h.user(),
    h.user(),
  ]);
  const circleId = await h.circle(owner.id, {
    moderators: [moderator.id],
    members: [raiser.id, a.id, b.id, c.id, gone.id],
  });
  await h.leave(circleId, gone.id);
  const devices = new Map<string, string>();
  for (const u of [owner, moderator, raiser, a, b, c, gone]) {
    devices.set(u.id, (await h.device(u, u === b ? "android" : "ios")).token);
  }
  return { circleId, owner, moderator, raiser, a, b, c, gone, devices };
}

async function raise(h: NotifierHarness, circleId: string, raisedBy: string) {
  const alertId = randomUUID();
  const meta = await h.deliver(
    contentStream,
    contentEvents.sosRaised,
    { alertId, circleId, raisedBy, message: words, raisedAt: timestampFromDate(new Date()) },
    alertId,
    raisedBy,
  );
  return { alertId, meta };
}

async function escalate(
  h: NotifierHarness,
  alert: { alertId: string; circleId: string; raisedBy: string },
  stage: EscalationStage,
) {
  return h.deliver(
    contentStream,
    contentEvents.sosEscalated,
    { ...alert, stage, escalatedAt: timestampFromDate(new Date()) },
    alert.alertId,
  );
}

const recipientsOf = async (h: NotifierHarness, eventId: string) =>
  (await h.notifications({ eventId })).map((n) => n.user_id).sort();

describe("SOS", () => {
  it("pushes to every active member but the raiser at once, through quiet hours and blocks, while a response waits", async () => {
    await using h = await startNotifier();
    const { circleId, owner, moderator, raiser, a, b, c, devices } = await circleOf(h);
    // Everyone is in their quiet hours; `a` blocked the raiser.
    for (const u of [owner, moderator, raiser, a, b, c]) {
      await u.n.updatePreferences({ quietHours: quietNow() });
    }
    await h.deliver(
      identityStream,
      identityEvents.userBlocked,
      { blockerId: a.id, blockedId: raiser.id, blockedAt: timestampFromDate(new Date()) },
      a.id,
    );

    const { alertId, meta } = await raise(h, circleId, raiser.id);
    const expected = [owner, moderator, a, b, c].map((u) => u.id).sort();
    expect(await recipientsOf(h, meta.id)).toEqual(expected);
    await waitFor(() => (h.pushed().length === 5 ? true : undefined), { what: "five pushes" });
    const tokens = expected.map((id) => devices.get(id));
    expect(
      h
        .pushed()
        .map((m) => m.token)
        .sort(),
    ).toEqual([...tokens].sort());
    for (const m of h.pushed()) {
      expect(m).toMatchObject({
        title: "Someone in your circle needs support",
        body: "",
        priority: "high",
        collapseKey: `sos:${alertId}`,
        ttlSeconds: 3_600,
        interruptionLevel: "time-sensitive",
        data: { kind: "sos", sos_id: alertId, circle_id: circleId },
      });
    }
    h.expectNoUserText(words);

    // A response to the owner in the same quiet hours waits for their end.
    const { meta: response } = await h.respond({ authorId: owner.id }, c.id);
    const [deferred] = await waitFor(async () => {
      const rows = await h.notifications({ eventId: response.id });
      return rows[0]?.deliveries[0]?.attempts === 0 &&
        (await h.deliveries("response", "deferred")) === 1
        ? rows
        : undefined;
    });
    expect(deferred?.deliveries[0]?.next_attempt_at.getTime()).toBeGreaterThan(
      Date.now() + 55 * 60_000,
    );
    expect(h.pushed()).toHaveLength(5);
    expect(await h.deliveries("sos", "sent")).toBe(5);
  });

  it("re-escalates: a second wave to all members but the raiser, then the owners and moderators, and nothing for on-call", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const { circleId, owner, moderator, raiser, a, b, c } = await circleOf(h);
    // A member who turned SOS off is not pushed (the log says why).
    await c.n.updatePreferences({ kinds: [{ kind: NotificationKind.SOS, pushEnabled: false }] });
    const { alertId } = await raise(h, circleId, raiser.id);
    await h.drain();
    const alert = { alertId, circleId, raisedBy: raiser.id };

    const second = await escalate(h, alert, EscalationStage.SECOND_WAVE);
    const members = [owner, moderator, a, b, c].map((u) => u.id).sort();
    expect(await recipientsOf(h, second.id)).toEqual(members);
    const [skipped] = (await h.notifications({ eventId: second.id })).filter(
      (n) => n.user_id === c.id,
    );
    expect(skipped).toMatchObject({ status: "dropped", reason: "push disabled for sos" });

    const staff = await escalate(h, alert, EscalationStage.CIRCLE_MODERATORS);
    expect(await recipientsOf(h, staff.id)).toEqual([owner.id, moderator.id].sort());
    const onCall = await escalate(h, alert, EscalationStage.PLATFORM_ON_CALL);
    expect(await recipientsOf(h, onCall.id)).toEqual([]);

    await h.drain();
    // First wave 4 (c opted out), second wave 4, moderators 2: one collapse key for all.
    expect(h.pushed()).toHaveLength(10);
    expect(new Set(h.pushed().map((m) => m.collapseKey))).toEqual(new Set([`sos:${alertId}`]));
    h.expectNoUserText(words);
  });

  it("drops queued pushes of an alert once it is resolved, and pushes no later wave", async () => {
    await using h = await startNotifier({ autoDispatch: false });
    const { circleId, raiser, owner } = await circleOf(h);
    const { alertId, meta } = await raise(h, circleId, raiser.id);
    await h.deliver(
      contentStream,
      contentEvents.sosResolved,
      { alertId, circleId, raisedBy: raiser.id, resolvedBy: owner.id },
      alertId,
    );
    const rows = await h.notifications({ eventId: meta.id });
    expect(rows).toHaveLength(5);
    for (const n of rows) expect(n).toMatchObject({ status: "dropped", reason: "alert resolved" });
    const late = await escalate(
      h,
      { alertId, circleId, raisedBy: raiser.id },
      EscalationStage.SECOND_WAVE,
    );
    expect(await h.notifications({ eventId: late.id })).toEqual([]);
    expect(await h.drain()).toBe(0);
    expect(h.pushed()).toEqual([]);
  });
});
