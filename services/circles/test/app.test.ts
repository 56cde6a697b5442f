import { Code } from "@connectrpc/connect";
import { CircleService } from "@kindred/proto/circles/v1";
import { clientFor, connectErrorOf, startReady, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadCirclesConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
describe("circles", () => {
  it("migrates its own database, gets ready, and validates requests before answering unimplemented", async () => {
    await using db = await createTestDatabase("circles");
    await using host = await startReady(
      createApp(loadCirclesConfig(testServiceEnv({ database: db }))),
    );
    const client = clientFor(CircleService, host);

    // issue 5 implements the methods; until then a valid request is told so plainly.
    await expect(client.getCircle({ circleId: someId })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });

    const invalid = await connectErrorOf(client.getCircle({ circleId: "42" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("circle_id");
  });
});
