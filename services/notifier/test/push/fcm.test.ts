import { createServer } from "node:net";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createFcmProvider, type FcmLogger, type FcmProviderOptions } from "../../src/push/fcm.ts";
import type { PushMessage } from "../../src/push/types.ts";
import {
  createTestServiceAccount,
  FakeFcm,
  type FakeFcmOptions,
  fcmReplies,
  fcmScope,
} from "./fake-fcm.ts";

interface LogEntry {
  level: "info" | "warn" | "error";
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger(): FcmLogger & { entries: LogEntry[]; text(): string } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry["level"]) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return {
    entries,
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    /** Everything logged, errors with their stacks and causes spelled out. */
    text: () => JSON.stringify(entries, errorReplacer),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack, cause: value.cause };
  }
  return value;
}

/** A clock the test moves by hand, shared by the provider and the fake. */
function manualClock(start = "2026-03-01T12:00:00Z") {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    advance(ms: number) {
      current += ms;
    },
  };
}

const deviceToken = `fcm-device-${"x".repeat(120)}-a1b2c3`;

function pushMessage(overrides: Partial<PushMessage> = {}): PushMessage {
  return {
    token: deviceToken,
    title: "Someone replied",
    body: "Open Kindred to read it",
    data: { kind: "response", post_id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10" },
    priority: "normal",
    ttlSeconds: 3600,
    ...overrides,
  };
}

async function setup(
  overrides: Partial<FcmProviderOptions> = {},
  fakeOptions: FakeFcmOptions = {},
) {
  const clock = manualClock();
  const fake = await FakeFcm.start({ now: clock.now, ...fakeOptions });
  const logger = recordingLogger();
  const registry = new Registry();
  const provider = createFcmProvider({
    serviceAccountJson: fake.serviceAccount.json,
    baseUrl: fake.url,
    logger,
    registry,
    now: clock.now,
    ...overrides,
  });
  return {
    fake,
    clock,
    logger,
    registry,
    provider,
    [Symbol.asyncDispose]: () => fake.close(),
  };
}

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function counterValue(registry: Registry, labels: Record<string, string>) {
  const metric = await registry.getSingleMetric("kindred_notifier_push_requests_total")?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, value]) => v.labels[k] === value),
  );
  return match?.value ?? 0;
}

describe("sending", () => {
  it("posts the FCM v1 message with the access token, and reports the message name", async () => {
    await using t = await setup({ channelId: (m) => (m.priority === "high" ? "sos" : undefined) });

    const result = await t.provider.send(
      pushMessage({ priority: "high", collapseKey: "sos-42", ttlSeconds: 0, body: "" }),
    );

    expect(result).toEqual({
      outcome: "sent",
      providerId: `projects/${t.fake.serviceAccount.projectId}/messages/0:1%fake`,
    });
    expect(t.fake.refusals).toEqual([]);
    expect(t.fake.sends).toHaveLength(1);
    const [send] = t.fake.sends;
    expect(send?.projectId).toBe(t.fake.serviceAccount.projectId);
    expect(send?.headers.authorization).toBe(`Bearer ${t.fake.issuedAccessTokens[0]}`);
    expect(send?.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(send?.body).toEqual({
      message: {
        token: deviceToken,
        notification: { title: "Someone replied", body: "" },
        data: { kind: "response", post_id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10" },
        android: {
          priority: "HIGH",
          ttl: "0s",
          collapse_key: "sos-42",
          notification: { channel_id: "sos" },
        },
      },
    });
  });

  it("leaves out the collapse key and channel when there are none", async () => {
    await using t = await setup();

    await t.provider.send(pushMessage({ ttlSeconds: 86_400.7 }));

    expect(t.fake.sends[0]?.body).toEqual({
      message: {
        token: deviceToken,
        notification: { title: "Someone replied", body: "Open Kindred to read it" },
        data: { kind: "response", post_id: "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10" },
        android: { priority: "NORMAL", ttl: "86400s" },
      },
    });
  });

  it("fails a message whose data values are not strings without sending it", async () => {
    await using t = await setup();
    const data = { kind: "sos", count: 3 } as unknown as Record<string, string>;

    const result = await t.provider.send(pushMessage({ data }));

    expect(result).toEqual({ outcome: "failed", reason: "data value count is not a string" });
    expect(t.fake.sends).toEqual([]);
    expect(t.fake.tokenRequests).toBe(0);
  });

  it("throws the signal's reason when the caller aborts, and sends nothing", async () => {
    await using t = await setup();
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));

    await expect(t.provider.send(pushMessage(), controller.signal)).rejects.toThrow(
      "shutting down",
    );
    expect(t.fake.sends).toEqual([]);
  });

  it("counts sends by outcome on a registry it can share with the APNs provider", async () => {
    await using t = await setup();
    t.fake.failDeviceToken(`dead-${deviceToken}`, fcmReplies.unregistered());
    // A second provider on the same registry reuses the metrics instead of failing.
    createFcmProvider({
      serviceAccountJson: t.fake.serviceAccount.json,
      baseUrl: t.fake.url,
      logger: t.logger,
      registry: t.registry,
    });

    await t.provider.send(pushMessage());
    await t.provider.send(pushMessage({ token: `dead-${deviceToken}` }));

    expect(await counterValue(t.registry, { provider: "fcm", outcome: "sent" })).toBe(1);
    expect(await counterValue(t.registry, { provider: "fcm", outcome: "invalid_token" })).toBe(1);
    const duration = await t.registry.getSingleMetricAsString(
      "kindred_notifier_push_duration_seconds",
    );
    expect(duration).toContain('kindred_notifier_push_duration_seconds_count{provider="fcm"} 2');
  });
});

describe("OAuth for the service account", () => {
  it("signs an RS256 assertion with the claims Google requires", async () => {
    await using t = await setup();

    await t.provider.send(pushMessage());

    expect(t.fake.refusals).toEqual([]);
    expect(t.fake.assertions).toHaveLength(1);
    const [assertion] = t.fake.assertions;
    const iat = Math.floor(t.clock.now().getTime() / 1000);
    expect(assertion?.contentType).toBe("application/x-www-form-urlencoded");
    expect(assertion?.grantType).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    expect(assertion?.header).toEqual({
      alg: "RS256",
      typ: "JWT",
      kid: t.fake.serviceAccount.privateKeyId,
    });
    expect(assertion?.claims).toEqual({
      iss: t.fake.serviceAccount.clientEmail,
      scope: fcmScope,
      aud: t.fake.tokenUri,
      iat,
      exp: iat + 3600,
    });
  });

  it("reuses the access token until five minutes before it expires", async () => {
    await using t = await setup();

    await t.provider.send(pushMessage());
    t.clock.advance((3599 - 300) * 1000 - 1);
    await t.provider.send(pushMessage());
    expect(t.fake.tokenRequests).toBe(1);

    t.clock.advance(1);
    await t.provider.send(pushMessage());
    expect(t.fake.tokenRequests).toBe(2);
    const [first, second, third] = t.fake.sends.map((s) => s.accessToken);
    expect(second).toBe(first);
    expect(third).not.toBe(first);
    expect(t.fake.sends.map((s) => s.status)).toEqual([200, 200, 200]);
  });

  it("asks for one token for concurrent sends", async () => {
    await using t = await setup();

    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.provider.send(pushMessage({ token: `${deviceToken}-${i}` })),
      ),
    );

    expect(results.map((r) => r.outcome)).toEqual(Array(8).fill("sent"));
    expect(t.fake.tokenRequests).toBe(1);
  });

  it("gets a fresh token once and sends again when FCM answers 401", async () => {
    await using t = await setup();
    await t.provider.send(pushMessage());
    t.fake.revokeAccessTokens();

    const result = await t.provider.send(pushMessage());

    expect(result.outcome).toBe("sent");
    expect(t.fake.tokenRequests).toBe(2);
    expect(t.fake.sends.map((s) => s.status)).toEqual([200, 401, 200]);
  });

  it("fails, after one fresh token, when FCM keeps answering 401", async () => {
    await using t = await setup();
    t.fake.failNextSends(2, fcmReplies.unauthenticated());

    const result = await t.provider.send(pushMessage());

    expect(result).toMatchObject({ outcome: "failed" });
    expect(t.fake.tokenRequests).toBe(2);
    expect(t.fake.sends).toHaveLength(2);
    expect(t.logger.entries.map((e) => e.level)).toEqual(["error"]);
  });

  it("fails, logging an error, when the token endpoint refuses the assertion", async () => {
    await using t = await setup();
    // Signed by a key the token endpoint does not know.
    const stranger = await createTestServiceAccount({ tokenUri: t.fake.tokenUri });
    const provider = createFcmProvider({
      serviceAccountJson: stranger.json,
      baseUrl: t.fake.url,
      logger: t.logger,
      now: t.clock.now,
    });

    const result = await provider.send(pushMessage());

    expect(result).toEqual({
      outcome: "failed",
      reason:
        "OAuth token endpoint refused the assertion (400 invalid_grant: Invalid JWT Signature.)",
    });
    expect(t.fake.sends).toEqual([]);
    expect(t.logger.entries).toMatchObject([{ level: "error", obj: { outcome: "failed" } }]);
  });

  it.each([
    ["answers 503", { status: 503, body: { error: "backend_error" } }, "answered 503"],
    ["hangs", "hang" as const, "timed out after 200 ms"],
  ])("retries when the token endpoint %s", async (_, reply, reason) => {
    await using t = await setup({ timeoutMs: 200 });
    t.fake.failNextTokenRequests(1, reply);

    const result = await t.provider.send(pushMessage());

    expect(result).toEqual({ outcome: "retry", reason: `OAuth token endpoint ${reason}` });
    expect(t.fake.sends).toEqual([]);
    // The failure is not cached: the next send gets a token.
    await expect(t.provider.send(pushMessage())).resolves.toMatchObject({ outcome: "sent" });
  });
});

describe("FCM's answers", () => {
  it.each([
    [
      "404 UNREGISTERED",
      fcmReplies.unregistered(),
      { outcome: "invalid_token", reason: "FCM 404 UNREGISTERED" },
      "info",
    ],
    [
      "400 INVALID_ARGUMENT about the token",
      fcmReplies.invalidToken(),
      {
        outcome: "invalid_token",
        reason:
          "FCM 400 INVALID_ARGUMENT: The registration token is not a valid FCM registration token",
      },
      "info",
    ],
    [
      "400 INVALID_ARGUMENT about the payload",
      fcmReplies.invalidArgument("Invalid value at 'message.data[0].value'"),
      {
        outcome: "failed",
        reason: "FCM 400 INVALID_ARGUMENT: Invalid value at 'message.data[0].value'",
      },
      "error",
    ],
    [
      "403 SENDER_ID_MISMATCH",
      fcmReplies.senderIdMismatch(),
      { outcome: "invalid_token", reason: "FCM 403 SENDER_ID_MISMATCH" },
      "info",
    ],
    [
      "429 QUOTA_EXCEEDED with Retry-After",
      fcmReplies.quotaExceeded("30"),
      {
        outcome: "retry",
        reason: "FCM 429 QUOTA_EXCEEDED: Quota exceeded for quota metric 'Send requests'",
        retryAfterMs: 30_000,
      },
      "warn",
    ],
    [
      "503 UNAVAILABLE with a Retry-After date",
      fcmReplies.unavailable("Sun, 01 Mar 2026 12:00:45 GMT"),
      {
        outcome: "retry",
        reason: "FCM 503 UNAVAILABLE: The service is currently unavailable.",
        retryAfterMs: 45_000,
      },
      "warn",
    ],
    [
      "500 INTERNAL",
      fcmReplies.internal(),
      { outcome: "retry", reason: "FCM 500 INTERNAL: Internal error encountered." },
      "warn",
    ],
    [
      "401 THIRD_PARTY_AUTH_ERROR",
      fcmReplies.thirdPartyAuthError(),
      {
        outcome: "failed",
        reason: "FCM 401 THIRD_PARTY_AUTH_ERROR: Auth error from APNS or Web Push Service",
      },
      "error",
    ],
    [
      "403 PERMISSION_DENIED",
      fcmReplies.permissionDenied(),
      {
        outcome: "failed",
        reason: expect.stringMatching(/^FCM 403 PERMISSION_DENIED: Permission/),
      },
      "error",
    ],
  ])("maps %s", async (_, reply, expected, level) => {
    await using t = await setup();
    t.fake.failDeviceToken(deviceToken, reply);

    const result = await t.provider.send(pushMessage());

    expect(result).toEqual(expected);
    expect(t.fake.tokenRequests).toBe(1);
    expect(t.logger.entries).toMatchObject([
      { level, obj: { provider: "fcm", device: "…a1b2c3", outcome: expected.outcome } },
    ]);
  });

  it("retries when FCM does not answer in time", async () => {
    await using t = await setup({ timeoutMs: 200 });
    t.fake.failNextSends(1, "hang");

    const result = await t.provider.send(pushMessage());

    expect(result).toEqual({ outcome: "retry", reason: "FCM request timed out after 200 ms" });
    expect(t.fake.sends).toHaveLength(1);
  });

  it("retries when FCM cannot be reached", async () => {
    await using t = await setup();
    const provider = createFcmProvider({
      serviceAccountJson: t.fake.serviceAccount.json,
      baseUrl: `http://127.0.0.1:${await closedPort()}`,
      logger: t.logger,
      now: t.clock.now,
    });

    const result = await provider.send(pushMessage());

    expect(result).toEqual({ outcome: "retry", reason: "FCM unreachable (ECONNREFUSED)" });
  });

  it("keeps the device token out of the reason when FCM's message quotes it", async () => {
    await using t = await setup();
    t.fake.failDeviceToken(deviceToken, fcmReplies.invalidArgument(`Bad value: ${deviceToken}`));

    const result = await t.provider.send(pushMessage());

    expect(result).toEqual({
      outcome: "failed",
      reason: "FCM 400 INVALID_ARGUMENT: Bad value: …a1b2c3",
    });
  });
});

describe("the fake", () => {
  it("refuses what FCM refuses: a bad access token, a bad message shape", async () => {
    await using t = await setup();
    await t.provider.send(pushMessage());
    const [accessToken] = t.fake.issuedAccessTokens;
    const post = (token: string, message: unknown) =>
      fetch(`${t.fake.url}/v1/projects/${t.fake.serviceAccount.projectId}/messages:send`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ message }),
      });

    expect((await post("ya29.made-up", { token: deviceToken })).status).toBe(401);
    const bad = await post(accessToken ?? "", {
      token: deviceToken,
      data: { count: 3 },
      android: { priority: "high", ttl: 60 },
    });
    expect(bad.status).toBe(400);
    expect(t.fake.refusals).toEqual([
      "send: no live access token",
      expect.stringMatching(/data\.count: .*android\.priority: .*android\.ttl: /),
    ]);
  });
});

describe("circuit breaker", () => {
  it("logs the outage that opened it without the device token", async () => {
    await using t = await setup({ breaker: { consecutiveFailures: 1, halfOpenAfterMs: 60_000 } });
    t.fake.failNextSends(1, {
      ...fcmReplies.internal(),
      body: {
        error: { code: 500, message: `Backend failed for ${deviceToken}`, status: "INTERNAL" },
      },
    });

    await expect(t.provider.send(pushMessage())).resolves.toEqual({
      outcome: "retry",
      reason: "FCM 500 INTERNAL: Backend failed for …a1b2c3",
    });
    expect(t.logger.entries.map((e) => e.msg)).toContain("fcm circuit opened: failing fast");
    expect(t.logger.text()).not.toContain(deviceToken);
  });

  it("opens after consecutive outages, and then sends nothing", async () => {
    await using t = await setup({ breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } });
    t.fake.failNextSends(2, fcmReplies.unavailable());

    await t.provider.send(pushMessage());
    await t.provider.send(pushMessage());
    const result = await t.provider.send(pushMessage());

    expect(result).toEqual({
      outcome: "retry",
      reason: "FCM circuit open: failing fast",
      notSent: true,
    });
    expect(t.fake.sends).toHaveLength(2);
    expect(t.fake.tokenRequests).toBe(1);
    expect(t.logger.entries.map((e) => e.msg)).toContain("fcm circuit opened: failing fast");
    expect(await counterValue(t.registry, { provider: "fcm", outcome: "retry" })).toBe(3);
  });

  it("counts a token endpoint outage", async () => {
    await using t = await setup({ breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } });
    t.fake.failNextTokenRequests(2, { status: 500, body: {} });

    await t.provider.send(pushMessage());
    await t.provider.send(pushMessage());

    await expect(t.provider.send(pushMessage())).resolves.toMatchObject({
      reason: "FCM circuit open: failing fast",
    });
    expect(t.fake.tokenRequests).toBe(2);
  });

  it("does not open on answers about devices or quota", async () => {
    await using t = await setup({ breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } });
    t.fake.failNextSends(2, fcmReplies.unregistered());
    t.fake.failNextSends(2, fcmReplies.quotaExceeded("1"));

    for (let i = 0; i < 4; i++) await t.provider.send(pushMessage());

    await expect(t.provider.send(pushMessage())).resolves.toMatchObject({ outcome: "sent" });
    expect(t.fake.sends).toHaveLength(5);
  });

  it("lets a probe through once half-open and closes when it succeeds", async () => {
    await using t = await setup({ breaker: { consecutiveFailures: 1, halfOpenAfterMs: 0 } });
    t.fake.failNextSends(1, fcmReplies.internal());

    await expect(t.provider.send(pushMessage())).resolves.toMatchObject({ outcome: "retry" });
    await expect(t.provider.send(pushMessage())).resolves.toMatchObject({ outcome: "sent" });
    await expect(t.provider.send(pushMessage())).resolves.toMatchObject({ outcome: "sent" });
    expect(t.fake.sends).toHaveLength(3);
  });
});

describe("rate cap", () => {
  it("turns sends back beyond the cap, with the time until the next slot", async () => {
    await using t = await setup({ ratePerSecond: 2, maxRateWaitMs: 0 });

    const results = [];
    for (let i = 0; i < 3; i++) results.push(await t.provider.send(pushMessage()));

    expect(results.map((r) => r.outcome)).toEqual(["sent", "sent", "retry"]);
    expect(results[2]).toEqual({
      outcome: "retry",
      reason: "FCM rate cap reached",
      retryAfterMs: 500,
      notSent: true,
    });
    expect(t.fake.sends).toHaveLength(2);

    t.clock.advance(500);
    await expect(t.provider.send(pushMessage())).resolves.toMatchObject({ outcome: "sent" });
    expect(t.fake.sends).toHaveLength(3);
  });

  it("spreads a burst out when the wait for a slot is short", async () => {
    await using t = await setup({ ratePerSecond: 500, rateBurst: 1, maxRateWaitMs: 1000 });

    const results = await Promise.all(
      Array.from({ length: 4 }, () => t.provider.send(pushMessage())),
    );

    expect(results.map((r) => r.outcome)).toEqual(["sent", "sent", "sent", "sent"]);
    expect(t.fake.sends).toHaveLength(4);
  });
});

describe("secrets", () => {
  it("never logs the device token, the private key, the assertion or an access token", async () => {
    await using t = await setup({ timeoutMs: 200 });
    t.fake.failDeviceToken(deviceToken, fcmReplies.invalidArgument(`Bad value: ${deviceToken}`));
    const other = `${deviceToken}-other`;

    await t.provider.send(pushMessage());
    await t.provider.send(pushMessage({ token: other }));
    t.fake.revokeAccessTokens();
    t.fake.failNextSends(1, fcmReplies.unavailable());
    await t.provider.send(pushMessage({ token: other }));
    t.fake.failNextSends(1, "hang");
    await t.provider.send(pushMessage({ token: other }));

    const logged = t.logger.text();
    expect(t.logger.entries.length).toBeGreaterThanOrEqual(3);
    expect(logged).toContain("…a1b2c3");
    const privateKey = JSON.parse(t.fake.serviceAccount.json).private_key as string;
    const keyBody = privateKey.split("\n")[1] ?? "";
    const secrets = [deviceToken, other, keyBody, ...t.fake.issuedAccessTokens];
    secrets.push(...t.fake.assertions.map((a) => a.jwt));
    expect(t.fake.issuedAccessTokens).toHaveLength(2);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(20);
      expect(logged).not.toContain(secret);
    }
    expect(logged).not.toContain("PRIVATE KEY");
  });
});

describe("creation", () => {
  it.each(["type", "project_id", "private_key_id", "private_key", "client_email", "token_uri"])(
    "fails naming %s when the service-account JSON lacks it",
    async (field) => {
      await using fake = await FakeFcm.start();
      const account = JSON.parse(fake.serviceAccount.json) as Record<string, unknown>;
      delete account[field];

      expect(() =>
        createFcmProvider({
          serviceAccountJson: JSON.stringify(account),
          logger: recordingLogger(),
        }),
      ).toThrow(`FCM service-account JSON is invalid: missing field ${field}`);
    },
  );

  it("names bad fields without quoting the file", async () => {
    await using fake = await FakeFcm.start();
    const account = JSON.parse(fake.serviceAccount.json) as Record<string, unknown>;
    const create = (json: string) => () =>
      createFcmProvider({ serviceAccountJson: json, logger: recordingLogger() });

    expect(create(JSON.stringify({ ...account, type: "authorized_user" }))).toThrow(
      'field type: Invalid input: expected "service_account"',
    );
    expect(create(JSON.stringify({ ...account, private_key: "not a key" }))).toThrow(
      "private_key is not a PEM private key",
    );
    expect(
      create(JSON.stringify({ ...account, token_uri: "http://oauth2.example.com/token" })),
    ).toThrow("token_uri must be an https URL");
    const truncated = fake.serviceAccount.json.slice(0, 300);
    expect(create(truncated)).toThrow(/^FCM service-account JSON is not valid JSON$/);
  });
});
