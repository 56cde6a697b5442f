import { describe, expect, it } from "vitest";
import { loadRealtimeConfig } from "../src/config.ts";

describe("realtime config", () => {
  it("reads no namespace and a 1 MiB socket buffer by default", () => {
    const config = loadRealtimeConfig({ KINDRED_ENV: "test" });
    expect(config.extra).toMatchObject({
      EVENTS_NAMESPACE: "",
      REALTIME_MAX_BUFFERED_BYTES: 1_048_576,
    });
  });

  it("names a namespace that streams and subjects cannot carry", () => {
    expect(() => loadRealtimeConfig({ KINDRED_ENV: "test", EVENTS_NAMESPACE: "Bad-NS" })).toThrow(
      /EVENTS_NAMESPACE must be lowercase letters, digits and _/,
    );
  });
});
