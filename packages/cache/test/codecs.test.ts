import { describe, expect, it } from "vitest";
import { jsonCodec, taggedJsonCodec } from "../src/index.ts";

const roundTrip = (value: unknown) => taggedJsonCodec.decode(taggedJsonCodec.encode(value));

describe("taggedJsonCodec", () => {
  it("keeps bigints and dates, at any depth", () => {
    const value = {
      id: -12345678901234567890n,
      at: new Date("2026-11-25T10:00:00.000Z"),
      list: [{ n: 0n, when: [new Date(1)] }],
    };
    expect(roundTrip(value)).toEqual(value);
    expect(roundTrip(7n)).toBe(7n);
    expect(roundTrip(new Date(5))).toEqual(new Date(5));
  });

  it("keeps an invalid date invalid", () => {
    const decoded = roundTrip(new Date(Number.NaN)) as Date;
    expect(decoded).toBeInstanceOf(Date);
    expect(Number.isNaN(decoded.getTime())).toBe(true);
  });

  it("does not let data that looks like a tag pass for one", () => {
    const value = {
      fake: { $bigint: "1" },
      alsoFake: { $date: "2026-01-01T00:00:00.000Z" },
      dollars: { $: 1, $$: 2, $$$x: { $bigint: "3" } },
    };
    expect(roundTrip(value)).toEqual(value);
  });

  it("keeps a __proto__ key as data", () => {
    const value = JSON.parse('{"$a":1,"__proto__":{"polluted":true}}');
    const decoded = roundTrip(value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("writes plain JSON for plain values", () => {
    expect(taggedJsonCodec.encode({ a: [1, "x", null, true] })).toBe('{"a":[1,"x",null,true]}');
  });
});

describe("jsonCodec", () => {
  it("refuses what JSON cannot hold instead of storing nothing", () => {
    expect(() => jsonCodec.encode(undefined)).toThrow(TypeError);
    expect(() => jsonCodec.encode(1n)).toThrow(TypeError);
    expect(jsonCodec.decode(jsonCodec.encode({ a: 1 }))).toEqual({ a: 1 });
  });
});
