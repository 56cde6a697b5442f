import { Code } from "@connectrpc/connect";
import { UserService } from "@kindred/proto/identity/v1";
import { clientFor, connectErrorOf, startReady, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadIdentityConfig } from "../src/config.ts";

describe("identity", () => {
  it("migrates its own database, gets ready, and validates requests before answering unimplemented", async () => {
    await using db = await createTestDatabase("identity");
    await using host = await startReady(
      createApp(loadIdentityConfig(testServiceEnv({ database: db }))),
    );
    const client = clientFor(UserService, host);

    // issue 4 implements the methods; until then a valid request is told so plainly.
    await expect(client.getMe({})).rejects.toMatchObject({ code: Code.Unimplemented });

    const invalid = await connectErrorOf(client.getUser({ userId: "not-a-uuid" }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("user_id");
  });
});
