import { describe, expect, it } from "vitest";
import {
  circlesEvents,
  circlesStream,
  contentEvents,
  contentStream,
  identityEvents,
  identityStream,
  moderationEvents,
  moderationStream,
} from "../src/index.ts";

const catalogs = [
  ["circles", circlesEvents, circlesStream],
  ["content", contentEvents, contentStream],
  ["identity", identityEvents, identityStream],
  ["moderation", moderationEvents, moderationStream],
] as const;

describe("event catalog", () => {
  it.each(catalogs)(
    "names every %s event <domain>.<entity>.<verb>.v<N> inside its producer's stream",
    (domain, events, stream) => {
      for (const event of Object.values(events)) {
        expect(event.subject).toMatch(/^[a-z]+\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*$/);
        expect(event.domain).toBe(domain);
        expect(stream.subjects).toEqual([`${domain}.>`]);
        expect(event.schema.typeName).toMatch(new RegExp(`^kindred\\.${domain}\\.events\\.v1\\.`));
      }
    },
  );

  it("derives name, version and aggregate from the subject", () => {
    expect(contentEvents.postCreated).toMatchObject({
      name: "content.post.created",
      version: 1,
      aggregateType: "post",
      domain: "content",
    });
    expect(identityEvents.sessionRevoked).toMatchObject({ aggregateType: "session", version: 1 });
    // Named explicitly where the aggregate is not the subject's entity.
    expect(circlesEvents.memberJoined.aggregateType).toBe("circle");
    expect(contentEvents.responseCreated.aggregateType).toBe("post");
    expect(contentEvents.postCreated.schema.typeName).toBe("kindred.content.events.v1.PostCreated");
  });
});
