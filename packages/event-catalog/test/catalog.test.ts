import { describe, expect, it } from "vitest";
import { contentEvents, contentStream } from "../src/index.ts";

describe("event catalog", () => {
  it("names every event <domain>.<entity>.<verb>.v<N> inside its producer's stream", () => {
    for (const event of Object.values(contentEvents)) {
      expect(event.subject).toMatch(/^content\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*$/);
      expect(
        contentStream.subjects.some(
          (s) => s === "content.>" && event.subject.startsWith("content."),
        ),
      ).toBe(true);
    }
    expect(contentEvents.postCreated).toMatchObject({
      name: "content.post.created",
      version: 1,
      aggregateType: "post",
      domain: "content",
    });
    expect(contentEvents.postCreated.schema.typeName).toBe("kindred.content.events.v1.PostCreated");
  });
});
