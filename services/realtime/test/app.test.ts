import { startReady, testServiceEnv } from "@kindred/service-kit";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadRealtimeConfig } from "../src/config.ts";

describe("realtime", () => {
  it("gets ready on NATS alone and says plainly that subscriptions are not built yet", async () => {
    await using host = await startReady(createApp(loadRealtimeConfig(testServiceEnv())));
    const report = await host.readiness.report();
    expect(Object.keys(report.checks)).toEqual(["nats"]);

    const res = await fetch(`${host.url}/v1/realtime`);
    expect(res.status).toBe(501);
    expect(await res.json()).toEqual({
      code: "unimplemented",
      message: "realtime subscriptions are not available yet",
    });
  });
});
