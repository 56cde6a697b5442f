import { Code } from "@connectrpc/connect";
import { NotifierService } from "@kindred/proto/notifier/v1";
import { clientFor, connectErrorOf, startReady, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadNotifierConfig } from "../src/config.ts";

describe("notifier", () => {
  it("migrates its own database, gets ready, and validates requests before answering unimplemented", async () => {
    await using db = await createTestDatabase("notifier");
    await using host = await startReady(
      createApp(loadNotifierConfig(testServiceEnv({ database: db }))),
    );
    const client = clientFor(NotifierService, host);

    // issue 7 implements the methods; until then a valid request is told so plainly.
    await expect(client.getPreferences({})).rejects.toMatchObject({ code: Code.Unimplemented });

    const invalid = await connectErrorOf(client.unregisterDevice({ deviceId: "device-1" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("device_id");
  });
});
