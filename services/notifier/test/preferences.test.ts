import { Code } from "@connectrpc/connect";
import { NotificationKind } from "@kindred/proto/notifier/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { describe, expect, it } from "vitest";
import { startNotifier } from "./harness.ts";

const all = (enabled: Partial<Record<NotificationKind, boolean>> = {}) =>
  [
    NotificationKind.RESPONSE,
    NotificationKind.SOS,
    NotificationKind.MODERATION_DECISION,
    NotificationKind.CIRCLE_INVITE,
  ].map((kind) => ({ kind, pushEnabled: enabled[kind] ?? true }));

describe("preferences", () => {
  it("has every kind on and no quiet hours until the user changes them", async () => {
    await using h = await startNotifier();
    const alice = await h.user();
    const { preferences } = await alice.n.getPreferences({});
    expect(preferences?.kinds).toMatchObject(all());
    expect(preferences?.quietHours).toBeUndefined();
    for (const call of [
      h.anonymous.getPreferences({}),
      h.anonymous.updatePreferences({
        kinds: [{ kind: NotificationKind.SOS, pushEnabled: false }],
      }),
    ]) {
      expect(await connectErrorOf(call)).toMatchObject({ code: Code.Unauthenticated });
    }
  });

  it("replaces the listed kinds, keeps the others, and sets quiet hours in a canonical time zone", async () => {
    await using h = await startNotifier();
    const alice = await h.user();
    const bob = await h.user();
    const { preferences } = await alice.n.updatePreferences({
      kinds: [{ kind: NotificationKind.RESPONSE, pushEnabled: false }],
      quietHours: {
        enabled: true,
        startMinute: 22 * 60,
        endMinute: 7 * 60,
        timeZone: "europe/berlin",
      },
    });
    const quietHours = {
      enabled: true,
      startMinute: 1320,
      endMinute: 420,
      timeZone: "Europe/Berlin",
    };
    expect(preferences).toMatchObject({
      kinds: all({ [NotificationKind.RESPONSE]: false }),
      quietHours,
    });

    // SOS may be turned off too (quiet hours never delay it, but the user may opt out).
    const { preferences: later } = await alice.n.updatePreferences({
      kinds: [{ kind: NotificationKind.SOS, pushEnabled: false }],
    });
    expect(later).toMatchObject({
      kinds: all({ [NotificationKind.RESPONSE]: false, [NotificationKind.SOS]: false }),
      quietHours,
    });
    expect((await alice.n.getPreferences({})).preferences).toEqual(later);

    // Turning quiet hours off keeps the window for the next time.
    const { preferences: off } = await alice.n.updatePreferences({
      kinds: [{ kind: NotificationKind.RESPONSE, pushEnabled: true }],
      quietHours: { ...quietHours, enabled: false },
    });
    expect(off).toMatchObject({
      kinds: all({ [NotificationKind.SOS]: false }),
      quietHours: { ...quietHours, enabled: false },
    });

    // Another user's preferences are their own.
    expect((await bob.n.getPreferences({})).preferences?.kinds).toMatchObject(all());
  });

  it("refuses an unknown time zone, an empty window and a kind listed twice, naming the field", async () => {
    await using h = await startNotifier();
    const alice = await h.user();
    const unknown = await connectErrorOf(
      alice.n.updatePreferences({
        quietHours: {
          enabled: true,
          startMinute: 0,
          endMinute: 360,
          timeZone: "Mars/Olympus_Mons",
        },
      }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toBe(
      'quiet_hours.time_zone: must be an IANA time zone such as Europe/Berlin, got "Mars/Olympus_Mons"',
    );
    const empty = await connectErrorOf(
      alice.n.updatePreferences({
        quietHours: { enabled: true, startMinute: 60, endMinute: 60, timeZone: "UTC" },
      }),
    );
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toContain("quiet_hours");
    const twice = await connectErrorOf(
      alice.n.updatePreferences({
        kinds: [
          { kind: NotificationKind.SOS, pushEnabled: false },
          { kind: NotificationKind.SOS, pushEnabled: true },
        ],
      }),
    );
    expect(twice.code).toBe(Code.InvalidArgument);
    const late = await connectErrorOf(
      alice.n.updatePreferences({
        quietHours: { enabled: true, startMinute: 1440, endMinute: 60, timeZone: "UTC" },
      }),
    );
    expect(late.code).toBe(Code.InvalidArgument);
    expect(late.rawMessage).toContain("start_minute");
    // Nothing was stored by the refused calls.
    expect((await alice.n.getPreferences({})).preferences?.quietHours).toBeUndefined();
  });
});
