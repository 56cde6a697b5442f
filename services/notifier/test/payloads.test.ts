import { describe, expect, it } from "vitest";
import { type PushSubject, pushMessage, titleFor, titles } from "../src/payloads.ts";

const settings = { ttlSeconds: 86_400, sosTtlSeconds: 3_600, criticalAlerts: false };
const sos: PushSubject = {
  notificationId: "n-1",
  kind: "sos",
  subjectKind: "sos",
  subjectId: "a-1",
  postId: null,
  circleId: "c-1",
};

describe("payloads", () => {
  it("has a neutral title for every kind in every language, and falls back to English", () => {
    for (const texts of Object.values(titles)) {
      expect(Object.keys(texts).sort()).toEqual(Object.keys(titles.en ?? {}).sort());
    }
    expect(titleFor("sos", "en-GB")).toBe("Someone in your circle needs support");
    expect(titleFor("sos", "DE_ch")).toBe("Jemand in deinem Kreis braucht Unterstützung");
    expect(titleFor("response", "ja-JP")).toBe("Someone responded to your post");
    expect(titleFor("moderation_decision", "")).toBe("An update about your account or content");
  });

  it("sends SOS at high priority, time-sensitive (critical only with the entitlement), one collapse key per alert", () => {
    const device = { token: "t", locale: "en" };
    expect(pushMessage(sos, device, settings)).toEqual({
      token: "t",
      title: "Someone in your circle needs support",
      body: "",
      data: { kind: "sos", notification_id: "n-1", sos_id: "a-1", circle_id: "c-1" },
      priority: "high",
      collapseKey: "sos:a-1",
      ttlSeconds: 3_600,
      interruptionLevel: "time-sensitive",
    });
    expect(pushMessage(sos, device, { ...settings, criticalAlerts: true }).interruptionLevel).toBe(
      "critical",
    );
    const decision = pushMessage(
      { ...sos, kind: "moderation_decision", subjectKind: "decision", circleId: null },
      device,
      settings,
    );
    expect(decision).toEqual({
      token: "t",
      title: "An update about your account or content",
      body: "",
      data: { kind: "moderation_decision", notification_id: "n-1", decision_id: "a-1" },
      priority: "normal",
      ttlSeconds: 86_400,
      interruptionLevel: "active",
    });
  });
});
