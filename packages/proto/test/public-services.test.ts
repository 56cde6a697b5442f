import { describe, expect, it } from "vitest";
import {
  circlesV1,
  contentV1,
  deployableForService,
  identityV1,
  moderationV1,
  notifierV1,
  publicServices,
} from "../src/index.ts";

describe("publicServices", () => {
  it("lists every public service once", () => {
    expect(publicServices.map((s) => s.typeName).sort()).toEqual([
      "kindred.circles.v1.CircleService",
      "kindred.content.v1.PostService",
      "kindred.content.v1.SupportService",
      "kindred.identity.v1.AuthService",
      "kindred.identity.v1.UserService",
      "kindred.moderation.v1.ModerationService",
      "kindred.notifier.v1.NotifierService",
    ]);
    expect(publicServices).toContain(identityV1.AuthService);
  });

  it("maps each service to the deployable that owns it", () => {
    const owners = Object.fromEntries(
      publicServices.map((s) => [s.typeName, deployableForService(s.typeName)]),
    );
    expect(owners).toEqual({
      [identityV1.AuthService.typeName]: "identity",
      [identityV1.UserService.typeName]: "identity",
      [circlesV1.CircleService.typeName]: "circles",
      [contentV1.PostService.typeName]: "content",
      [contentV1.SupportService.typeName]: "content",
      [moderationV1.ModerationService.typeName]: "moderation",
      [notifierV1.NotifierService.typeName]: "notifier",
    });
  });

  it("knows no other service", () => {
    expect(deployableForService("kindred.realtime.v1.RealtimeService")).toBeUndefined();
    expect(deployableForService("grpc.health.v1.Health")).toBeUndefined();
  });

  it("cannot be changed at runtime", () => {
    expect(Object.isFrozen(publicServices)).toBe(true);
  });
});
