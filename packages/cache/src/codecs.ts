/**
 * How a cached value becomes the string stored in Redis and back. A value that goes through
 * `decode(encode(value))` must come out as the caller expects it: `getOrLoad` returns that
 * round trip on a miss as on a hit, so a codec that loses something fails the first test.
 */
export interface CacheCodec {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/** Plain JSON: for values made of strings, numbers, booleans, null, arrays and objects. */
export const jsonCodec: CacheCodec = {
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`cannot cache ${typeof value} as JSON`);
    return text;
  },
  decode: (text) => JSON.parse(text),
};

/**
 * JSON that also keeps `bigint` and `Date` (ids and timestamps of kysely rows): they are stored
 * as `{"$bigint":"42"}` and `{"$date":"2026-01-01T00:00:00.000Z"}`. An object's own keys that
 * start with `$` are stored with one more `$`, so no data can pass for a tag.
 */
export const taggedJsonCodec: CacheCodec = {
  encode(value) {
    const text = JSON.stringify(value, function (this: Record<string, unknown>, key, replaced) {
      // `this[key]` is the value before `toJSON` ran (a Date arrives as a string otherwise).
      const raw = this[key];
      if (typeof raw === "bigint") return { $bigint: raw.toString() };
      if (raw instanceof Date) {
        return { $date: Number.isNaN(raw.getTime()) ? null : raw.toISOString() };
      }
      if (isPlainRecord(replaced) && Object.keys(replaced).some((k) => k.startsWith("$"))) {
        return renameKeys(replaced, (k) => (k.startsWith("$") ? `$${k}` : k));
      }
      return replaced;
    });
    if (text === undefined) throw new TypeError(`cannot cache ${typeof value} as JSON`);
    return text;
  },
  decode(text) {
    return JSON.parse(text, (_key, value: unknown) => {
      if (!isPlainRecord(value)) return value;
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === "$bigint" && typeof value.$bigint === "string") {
        return BigInt(value.$bigint);
      }
      if (keys.length === 1 && keys[0] === "$date") {
        return new Date(typeof value.$date === "string" ? value.$date : Number.NaN);
      }
      if (!keys.some((k) => k.startsWith("$"))) return value;
      return renameKeys(value, (k) => (k.startsWith("$") ? k.slice(1) : k));
    });
  },
};

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `Object.fromEntries` defines own properties, so a `__proto__` key stays data. */
function renameKeys(
  value: Record<string, unknown>,
  rename: (key: string) => string,
): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [rename(k), v]));
}
