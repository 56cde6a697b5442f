import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator } from "@bufbuild/protovalidate";
import { describe, expect, it } from "vitest";
import {
  circlesV1,
  contentV1,
  identityV1,
  moderationV1,
  notifierV1,
  realtimeV1,
} from "../src/index.ts";

const validator = createValidator();
const uuid = "0190b6d2-6a4c-7a1e-9f3b-2c8d4e5f6a7b";

/** Validates a request and returns its violations as `field: rule id` strings. */
function violations<Desc extends DescMessage>(
  schema: Desc,
  init: MessageInitShape<Desc>,
): string[] {
  const result = validator.validate(schema, create(schema, init));
  if (result.kind === "error") throw result.error;
  if (result.kind === "valid") return [];
  return result.error.violations.map((v) => `${pathToString(v.field)}: ${v.ruleId}`);
}

const register = { email: "ada@example.com", password: "correct horse", displayName: "Ada" };

describe("identity requests", () => {
  it("accepts a valid Register", () => {
    expect(violations(identityV1.RegisterRequestSchema, register)).toEqual([]);
  });

  it("rejects a malformed e-mail", () => {
    expect(violations(identityV1.RegisterRequestSchema, { ...register, email: "ada@" })).toEqual([
      "email: string.email",
    ]);
  });

  it("rejects a short password and an empty display name", () => {
    expect(
      violations(identityV1.RegisterRequestSchema, {
        ...register,
        password: "short",
        displayName: "",
      }),
    ).toEqual(["password: string.min_len", "display_name: string.min_len"]);
  });

  it("bounds passwords in characters and in UTF-8 bytes", () => {
    expect(
      violations(identityV1.RegisterRequestSchema, { ...register, password: "a".repeat(257) }),
    ).toEqual(["password: string.max_len"]);
    // 150 characters of 4 bytes each: within 256 characters, over 512 bytes.
    expect(
      violations(identityV1.ChangePasswordRequestSchema, {
        currentPassword: "old password",
        newPassword: "😀".repeat(150),
      }),
    ).toEqual(["new_password: string.max_bytes"]);
  });

  it("rejects a malformed uuid", () => {
    expect(violations(identityV1.GetUserRequestSchema, { userId: "not-a-uuid" })).toEqual([
      "user_id: string.uuid",
    ]);
    expect(violations(identityV1.GetUserRequestSchema, { userId: uuid })).toEqual([]);
  });

  it("requires a defined OAuth provider", () => {
    expect(
      violations(identityV1.StartOAuthRequestSchema, {
        redirectUri: "kindred://oauth/callback",
      }),
    ).toEqual(["provider: enum.not_in"]);
  });

  it("requires at least one change in UpdateProfile", () => {
    expect(violations(identityV1.UpdateProfileRequestSchema, { expectedVersion: 3n })).toEqual([
      ": update_profile.non_empty",
    ]);
  });

  it("requires ROLE_MEMBER in SetRoles", () => {
    expect(
      violations(identityV1.SetRolesRequestSchema, {
        userId: uuid,
        roles: [identityV1.Role.ADMIN],
      }),
    ).toEqual(["roles: set_roles.member"]);
  });
});

describe("list requests", () => {
  it("caps page_size at 100", () => {
    expect(violations(contentV1.ListFeedRequestSchema, { pageSize: 1000 })).toEqual([
      "page_size: int32.gte_lte",
    ]);
    expect(violations(contentV1.ListFeedRequestSchema, { pageSize: 100 })).toEqual([]);
    expect(violations(circlesV1.ListMyCirclesRequestSchema, { pageSize: -1 })).toEqual([
      "page_size: int32.gte_lte",
    ]);
  });
});

describe("content and circles requests", () => {
  it("bounds post bodies to 1..10000 characters", () => {
    const post = { circleId: uuid, body: "hello" };
    expect(violations(contentV1.CreatePostRequestSchema, post)).toEqual([]);
    expect(violations(contentV1.CreatePostRequestSchema, { ...post, body: "" })).toEqual([
      "body: string.min_len",
    ]);
    expect(
      violations(contentV1.CreatePostRequestSchema, { ...post, body: "x".repeat(10_001) }),
    ).toEqual(["body: string.max_len"]);
  });

  it("requires a visibility for a new circle", () => {
    expect(violations(circlesV1.CreateCircleRequestSchema, { name: "Night owls" })).toEqual([
      "visibility: enum.not_in",
    ]);
  });
});

describe("moderation requests", () => {
  it("reports the nested path of a bad target", () => {
    expect(
      violations(moderationV1.ReportContentRequestSchema, {
        target: { kind: moderationV1.TargetKind.POST, id: "42" },
        reason: moderationV1.ReportReason.SPAM,
      }),
    ).toEqual(["target.id: string.uuid"]);
  });

  it("ties duration_seconds to the action", () => {
    const resolve = { caseId: uuid, note: "repeated harassment" };
    expect(
      violations(moderationV1.ResolveCaseRequestSchema, {
        ...resolve,
        action: moderationV1.Action.SUSPEND,
      }),
    ).toEqual([": resolve_case.suspend_duration"]);
    expect(
      violations(moderationV1.ResolveCaseRequestSchema, {
        ...resolve,
        action: moderationV1.Action.WARN,
        durationSeconds: 3600n,
      }),
    ).toEqual([": resolve_case.duration_action"]);
    expect(
      violations(moderationV1.ResolveCaseRequestSchema, {
        ...resolve,
        action: moderationV1.Action.SUSPEND,
        durationSeconds: 86_400n,
      }),
    ).toEqual([]);
  });
});

describe("notifier requests", () => {
  it("rejects duplicate kinds in UpdatePreferences", () => {
    const kind = notifierV1.NotificationKind.RESPONSE;
    expect(
      violations(notifierV1.UpdatePreferencesRequestSchema, {
        kinds: [
          { kind, pushEnabled: true },
          { kind, pushEnabled: false },
        ],
      }),
    ).toEqual(["kinds: update_preferences.unique_kinds"]);
  });
});

describe("realtime client messages", () => {
  it("accepts a subscribe to a circle channel", () => {
    expect(
      violations(realtimeV1.ClientMessageSchema, {
        frame: { case: "subscribe", value: { channel: `circle:${uuid}` } },
      }),
    ).toEqual([]);
  });

  it("rejects a message without a frame and a malformed channel", () => {
    expect(violations(realtimeV1.ClientMessageSchema, {})).toEqual(["frame: required"]);
    expect(
      violations(realtimeV1.ClientMessageSchema, {
        frame: { case: "subscribe", value: { channel: "circle:42" } },
      }),
    ).toEqual(["subscribe.channel: string.pattern"]);
  });
});
