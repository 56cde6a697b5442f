import { Code } from "@connectrpc/connect";
import { ModerationService } from "@kindred/proto/moderation/v1";
import { clientFor, connectErrorOf, startReady, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadModerationConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
describe("moderation", () => {
  it("migrates its own database, gets ready, and validates requests before answering unimplemented", async () => {
    await using db = await createTestDatabase("moderation");
    await using host = await startReady(
      createApp(loadModerationConfig(testServiceEnv({ database: db }))),
    );
    const client = clientFor(ModerationService, host);

    // issue 6 implements the methods; until then a valid request is told so plainly.
    await expect(client.getCase({ caseId: someId })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });

    const invalid = await connectErrorOf(client.getCase({ caseId: "case-1" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("case_id");
  });
});
