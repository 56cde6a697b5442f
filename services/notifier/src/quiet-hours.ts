/** A user's daily window without pushes, in their time zone (SOS ignores it, ADR 17). */
export interface QuietWindow {
  enabled: boolean;
  /** Minutes after local midnight, 0 to 1439. */
  startMinute: number;
  endMinute: number;
  /** IANA time zone, such as `Europe/Berlin`. */
  timeZone: string;
}

const dayMinutes = 1440;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The canonical IANA name of `timeZone` (`europe/berlin` → `Europe/Berlin`), or undefined. */
export function canonicalTimeZone(timeZone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone }).resolvedOptions().timeZone;
  } catch {
    return undefined; // RangeError: not a time zone this runtime knows
  }
}

/** The minute of the local day (0 to 1439) at `at` in `timeZone`. */
export function localMinute(at: Date, timeZone: string): number {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, formatter);
  }
  let hour = 0;
  let minute = 0;
  for (const part of formatter.formatToParts(at)) {
    if (part.type === "hour") hour = Number(part.value);
    if (part.type === "minute") minute = Number(part.value);
  }
  return (hour % 24) * 60 + minute;
}

/** Whether `minute` falls in [start, end), a window that may wrap midnight; empty when equal. */
export function inWindow(minute: number, start: number, end: number): boolean {
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * When the quiet hours that `at` falls in end (the next local `endMinute`), or undefined when
 * `at` is outside them, they are off, or their time zone is unknown. Across a daylight-saving
 * change the end is corrected once to the local end minute.
 */
export function quietUntil(quiet: QuietWindow | undefined, at: Date): Date | undefined {
  if (quiet === undefined || !quiet.enabled) return undefined;
  if (canonicalTimeZone(quiet.timeZone) === undefined) return undefined;
  const minute = localMinute(at, quiet.timeZone);
  if (!inWindow(minute, quiet.startMinute, quiet.endMinute)) return undefined;
  const left = (quiet.endMinute - minute + dayMinutes) % dayMinutes;
  const minuteStart = at.getTime() - (at.getTime() % 60_000);
  let end = minuteStart + left * 60_000;
  const reached = localMinute(new Date(end), quiet.timeZone);
  const off =
    ((quiet.endMinute - reached + dayMinutes + dayMinutes / 2) % dayMinutes) - dayMinutes / 2;
  end += off * 60_000;
  return new Date(Math.max(end, at.getTime() + 1_000));
}
