import { describe, expect, it } from "vitest";
import { canonicalTimeZone, inWindow, localMinute, quietUntil } from "../src/quiet-hours.ts";

const berlinNights = {
  enabled: true,
  startMinute: 22 * 60,
  endMinute: 7 * 60,
  timeZone: "Europe/Berlin",
};

describe("quiet hours", () => {
  it("knows IANA time zones by their canonical names", () => {
    expect(canonicalTimeZone("europe/berlin")).toBe("Europe/Berlin");
    expect(canonicalTimeZone("UTC")).toBe("UTC");
    expect(canonicalTimeZone("Mars/Olympus_Mons")).toBeUndefined();
    expect(canonicalTimeZone("")).toBeUndefined();
  });

  it("reads the local minute, half-hour offsets included", () => {
    const at = new Date("2026-07-01T12:00:00Z");
    expect(localMinute(at, "UTC")).toBe(720);
    expect(localMinute(at, "Europe/Berlin")).toBe(14 * 60);
    expect(localMinute(at, "America/St_Johns")).toBe(9 * 60 + 30); // NDT, UTC-2:30
    expect(localMinute(new Date("2026-07-01T22:30:00Z"), "Asia/Kolkata")).toBe(4 * 60);
  });

  it("windows include their start, exclude their end, and may wrap midnight", () => {
    expect(inWindow(13 * 60, 13 * 60, 14 * 60)).toBe(true);
    expect(inWindow(14 * 60, 13 * 60, 14 * 60)).toBe(false);
    expect(inWindow(23 * 60, 22 * 60, 6 * 60)).toBe(true);
    expect(inWindow(5 * 60 + 59, 22 * 60, 6 * 60)).toBe(true);
    expect(inWindow(6 * 60, 22 * 60, 6 * 60)).toBe(false);
    expect(inWindow(12 * 60, 22 * 60, 6 * 60)).toBe(false);
    expect(inWindow(0, 60, 60)).toBe(false);
  });

  it("says when the window ends, in the user's time zone, across midnight and daylight saving", () => {
    // 23:30 in Berlin in summer (UTC+2): quiet until 07:00 local, 05:00Z.
    expect(quietUntil(berlinNights, new Date("2026-07-01T21:30:20Z"))).toEqual(
      new Date("2026-07-02T05:00:00Z"),
    );
    // 12:00 in Berlin: not quiet.
    expect(quietUntil(berlinNights, new Date("2026-07-01T10:00:00Z"))).toBeUndefined();
    // The night clocks go forward (29 March 2026, 02:00 → 03:00): 07:00 CEST is 05:00Z.
    expect(quietUntil(berlinNights, new Date("2026-03-28T22:00:00Z"))).toEqual(
      new Date("2026-03-29T05:00:00Z"),
    );
    // The night clocks go back (25 October 2026, 03:00 → 02:00): 07:00 CET is 06:00Z.
    expect(quietUntil(berlinNights, new Date("2026-10-24T21:00:00Z"))).toEqual(
      new Date("2026-10-25T06:00:00Z"),
    );
    expect(quietUntil({ ...berlinNights, enabled: false }, new Date("2026-07-01T21:30:00Z"))).toBe(
      undefined,
    );
    expect(quietUntil({ ...berlinNights, timeZone: "Nowhere/Else" }, new Date())).toBeUndefined();
    expect(quietUntil(undefined, new Date())).toBeUndefined();
  });
});
