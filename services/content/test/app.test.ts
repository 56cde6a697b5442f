import { Code } from "@connectrpc/connect";
import { PostService } from "@kindred/proto/content/v1";
import { clientFor, connectErrorOf, startReady, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadContentConfig } from "../src/config.ts";

const someId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
describe("content", () => {
  it("migrates its own database, gets ready, and validates requests before answering unimplemented", async () => {
    await using db = await createTestDatabase("content");
    await using host = await startReady(
      createApp(loadContentConfig(testServiceEnv({ database: db }))),
    );
    const client = clientFor(PostService, host);

    // issue 5 implements the methods; until then a valid request is told so plainly.
    await expect(client.getPost({ postId: someId })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });

    const invalid = await connectErrorOf(client.listFeed({ pageSize: 1000 }));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("page_size");
  });
});
