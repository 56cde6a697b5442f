import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { recordingLogger, waitFor } from "@kindred/testing";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { Registry } from "prom-client";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ApnsProvider,
  type ApnsProviderOptions,
  createApnsProvider,
} from "../../src/push/apns.ts";
import { pushMetrics } from "../../src/push/push-metrics.ts";
import type { PushMessage, PushResult } from "../../src/push/types.ts";
import {
  apnsAnswers,
  FakeApns,
  type FakeApnsAnswer,
  fakeApnsCa,
  generateApnsKey,
} from "./fake-apns.ts";

const teamId = "TEAM123456";
const keyId = "KEY7654321";
const bundleId = "app.kindred.ios";
const deviceToken = `${"a0b1c2d3e4f5".repeat(5)}c0ffee`;
const t0 = new Date("2026-03-04T05:06:07.000Z");

let key: Awaited<ReturnType<typeof generateApnsKey>>;
let clock: Date;
const now = () => clock;
let fake: FakeApns;
let logger: ReturnType<typeof recordingLogger>;
let registry: Registry;
let providers: ApnsProvider[];

beforeAll(async () => {
  key = await generateApnsKey();
});

beforeEach(async () => {
  clock = t0;
  fake = await FakeApns.start({ teamId, keyId, publicKey: key.publicKey, bundleId, now });
  logger = recordingLogger();
  registry = new Registry();
  providers = [];
});

afterEach(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await fake.close();
});

function apns(overrides: Partial<ApnsProviderOptions> = {}): ApnsProvider {
  const provider = createApnsProvider({
    baseUrl: fake.url,
    teamId,
    keyId,
    privateKeyPem: key.privateKeyPem,
    bundleId,
    ca: fakeApnsCa,
    timeoutMs: 5_000,
    breaker: { consecutiveFailures: 100, halfOpenAfterMs: 60_000 },
    logger,
    registry,
    now,
    ...overrides,
  });
  providers.push(provider);
  return provider;
}

function message(overrides: Partial<PushMessage> = {}): PushMessage {
  return {
    token: deviceToken,
    title: "Someone in your circle needs support",
    body: "Open Kindred to respond",
    data: { kind: "sos", sos_id: "sos-42" },
    priority: "high",
    ttlSeconds: 3600,
    ...overrides,
  };
}

/**
 * A TCP forwarder whose connections can be stalled: bytes stop flowing both ways and nothing is
 * closed, as on a dead network path (no FIN, no RST). New connections flow again.
 */
class StallingProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  url = "";

  constructor(target: URL) {
    this.#server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.add(pair);
      for (const socket of pair) {
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
        socket.on("close", () => {
          client.destroy();
          upstream.destroy();
          this.#pairs.delete(pair);
        });
      }
      client.pipe(upstream).pipe(client);
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    this.url = `https://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return this;
  }

  stall(): void {
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) for (const socket of pair) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

async function requestsByOutcome(): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric("kindred_notifier_push_requests_total");
  const values = (await metric?.get())?.values ?? [];
  return Object.fromEntries(
    values.map((v) => [`${String(v.labels.provider)}:${String(v.labels.outcome)}`, v.value]),
  );
}

describe("the request", () => {
  it("posts Apple's headers and payload for a high-priority push", async () => {
    const result = await apns().send(
      message({ collapseKey: "sos:sos-42", interruptionLevel: "time-sensitive" }),
    );

    const [request] = fake.requests;
    expect(result).toEqual({ outcome: "sent", providerId: request?.apnsId });
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/3/device/${deviceToken}`);
    expect(request?.headers).toMatchObject({
      "apns-topic": bundleId,
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": String(t0.getTime() / 1000 + 3600),
      "apns-collapse-id": "sos:sos-42",
    });
    expect(request?.headers.authorization).toBe(`bearer ${request?.jwt}`);
    expect(request?.body).toEqual({
      aps: {
        alert: { title: "Someone in your circle needs support", body: "Open Kindred to respond" },
        sound: "default",
        "interruption-level": "time-sensitive",
      },
      kind: "sos",
      sos_id: "sos-42",
    });
  });

  it("sends priority 5, expiration 0 for ttl 0, no collapse id, and keeps aps its own", async () => {
    await apns({ threadIdOf: (m) => m.data.circle_id }).send(
      message({
        priority: "normal",
        ttlSeconds: 0,
        data: { kind: "post", post_id: "p-1", circle_id: "c-9", aps: "not allowed" },
      }),
    );

    const [request] = fake.requests;
    expect(request?.headers["apns-priority"]).toBe("5");
    expect(request?.headers["apns-expiration"]).toBe("0");
    expect(request?.headers).not.toHaveProperty("apns-collapse-id");
    expect(request?.body).toEqual({
      aps: {
        alert: { title: "Someone in your circle needs support", body: "Open Kindred to respond" },
        sound: "default",
        "thread-id": "c-9",
      },
      kind: "post",
      post_id: "p-1",
      circle_id: "c-9",
    });
  });

  it("asks for a critical sound with a critical interruption level", async () => {
    await apns().send(message({ interruptionLevel: "critical" }));
    expect(fake.requests[0]?.body).toMatchObject({
      aps: {
        "interruption-level": "critical",
        sound: { critical: 1, name: "default", volume: 1 },
      },
    });
  });

  it("replaces a collapse key longer than 64 bytes by a stable hash", async () => {
    const provider = apns();
    const collapseKey = `circle-activity:${"x".repeat(80)}`;
    await provider.send(message({ collapseKey }));
    await provider.send(message({ collapseKey }));
    const [first, second] = fake.delivered.map((r) => r.headers["apns-collapse-id"]);
    expect(first).toMatch(/^[\w-]{43}$/);
    expect(second).toBe(first);
  });

  it("hashes a collapse key that cannot be a header value", async () => {
    const result = await apns().send(message({ collapseKey: "cercle:café\n🌱" }));
    expect(result).toMatchObject({ outcome: "sent" });
    expect(fake.requests[0]?.headers["apns-collapse-id"]).toMatch(/^[\w-]{43}$/);
  });

  it("refuses a payload over 4096 bytes without sending it", async () => {
    const result = await apns().send(message({ data: { note: "x".repeat(4096) } }));
    expect(result).toMatchObject({
      outcome: "failed",
      reason: expect.stringMatching(/^PayloadTooLarge/),
    });
    expect(fake.requests).toHaveLength(0);
  });

  it("calls a token that is not hexadecimal invalid without sending it", async () => {
    const result = await apns().send(message({ token: "../../3/device/abc" }));
    expect(result).toMatchObject({ outcome: "invalid_token" });
    expect(fake.requests).toHaveLength(0);
  });
});

describe("the provider token", () => {
  it("is an ES256 JWT with kid, iss and iat only", async () => {
    await apns().send(message());
    const jwt = fake.requests[0]?.jwt ?? "";
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "ES256", kid: keyId });
    expect(decodeJwt(jwt)).toEqual({ iss: teamId, iat: t0.getTime() / 1000 });
  });

  it("is reused across requests and renewed after 50 minutes", async () => {
    const provider = apns();
    await Promise.all([provider.send(message()), provider.send(message())]);
    await provider.send(message());
    clock = new Date(t0.getTime() + 49 * 60_000);
    await provider.send(message());
    expect(fake.jwts).toHaveLength(1);

    clock = new Date(t0.getTime() + 50 * 60_000);
    await provider.send(message());
    await provider.send(message());
    expect(fake.jwts).toHaveLength(2);
    expect(decodeJwt(fake.jwts[1] ?? "").iat).toBe(clock.getTime() / 1000);
    expect(fake.delivered).toHaveLength(6);
  });

  it("is renewed once on ExpiredProviderToken and the request sent again", async () => {
    const provider = apns();
    await provider.send(message());
    fake.answerNext(apnsAnswers.expiredProviderToken(), 3);

    const results = await Promise.all([1, 2, 3].map(() => provider.send(message())));

    expect(results.map((r) => r.outcome)).toEqual(["sent", "sent", "sent"]);
    // Three requests refused with the same token renew it once.
    expect(fake.jwts).toHaveLength(2);
    expect(fake.requests.slice(1).map((r) => r.answer)).toEqual([403, 403, 403, 200, 200, 200]);
  });

  it("gives up when the renewed token is refused as expired too", async () => {
    fake.answerNext(apnsAnswers.expiredProviderToken(), 2);
    const provider = apns();
    const result = await provider.send(message());
    expect(result).toEqual({ outcome: "failed", reason: "ExpiredProviderToken" });
    expect(fake.requests).toHaveLength(2);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "error",
        obj: expect.objectContaining({ reason: "ExpiredProviderToken" }),
      }),
    );

    // Renewing again within 20 minutes would only earn TooManyProviderTokenUpdates.
    fake.answerNext(apnsAnswers.expiredProviderToken());
    expect(await provider.send(message())).toEqual({
      outcome: "failed",
      reason: "ExpiredProviderToken",
    });
    expect(fake.requests).toHaveLength(3);
    expect(fake.jwts).toHaveLength(2);
  });

  it("is refused by APNs when it is an hour old, as the fake checks", async () => {
    const provider = apns({ now: () => t0 });
    await provider.send(message());
    clock = new Date(t0.getTime() + 61 * 60_000);
    // The provider's clock stayed behind: it signs with the same stale iat again.
    expect(await provider.send(message())).toEqual({
      outcome: "failed",
      reason: "ExpiredProviderToken",
    });
  });

  it("signed with another key, or naming another key, is refused: failed, logged as an error", async () => {
    const other = await generateApnsKey();
    const wrongKey = await apns({ privateKeyPem: other.privateKeyPem }).send(message());
    const wrongKid = await apns({ keyId: "OTHERKEY00" }).send(message());
    expect(wrongKey).toEqual({ outcome: "failed", reason: "InvalidProviderToken" });
    expect(wrongKid).toEqual({ outcome: "failed", reason: "InvalidProviderToken" });
    expect(logger.entries.filter((e) => e.level === "error")).toHaveLength(2);
  });

  it("needs a P-256 private key in PEM, and says so without quoting it", () => {
    const garbage = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----";
    expect(() => apns({ privateKeyPem: garbage })).toThrow(/not a PEM private key/);
    try {
      apns({ privateKeyPem: garbage });
    } catch (err) {
      expect(String(err)).not.toContain("c2VjcmV0");
    }
  });
});

describe("results", () => {
  const cases: [string, FakeApnsAnswer, PushResult][] = [
    [
      "410 Unregistered",
      apnsAnswers.unregistered(t0.getTime()),
      { outcome: "invalid_token", reason: "Unregistered", invalidSince: t0 },
    ],
    [
      "400 BadDeviceToken",
      apnsAnswers.badDeviceToken(),
      { outcome: "invalid_token", reason: "BadDeviceToken" },
    ],
    [
      "400 DeviceTokenNotForTopic",
      apnsAnswers.deviceTokenNotForTopic(),
      { outcome: "invalid_token", reason: "DeviceTokenNotForTopic" },
    ],
    [
      "429 with retry-after",
      apnsAnswers.tooManyRequests(30),
      { outcome: "retry", reason: "TooManyRequests", retryAfterMs: 30_000 },
    ],
    [
      "429 without retry-after",
      apnsAnswers.tooManyRequests(),
      { outcome: "retry", reason: "TooManyRequests" },
    ],
    ["500", apnsAnswers.internalServerError(), { outcome: "retry", reason: "InternalServerError" }],
    [
      "503 with retry-after",
      apnsAnswers.serviceUnavailable(5),
      { outcome: "retry", reason: "ServiceUnavailable", retryAfterMs: 5_000 },
    ],
    [
      "403 InvalidProviderToken",
      apnsAnswers.invalidProviderToken(),
      { outcome: "failed", reason: "InvalidProviderToken" },
    ],
    [
      "413 PayloadTooLarge",
      apnsAnswers.payloadTooLarge(),
      { outcome: "failed", reason: "PayloadTooLarge" },
    ],
  ];

  it.each(cases)("maps %s", async (_name, answer, expected) => {
    fake.answerToken(deviceToken, answer);
    expect(await apns().send(message())).toEqual(expected);
  });

  it("maps a topic APNs refuses to failed", async () => {
    const result = await apns({ bundleId: "app.kindred.other" }).send(message());
    expect(result).toEqual({ outcome: "failed", reason: "BadTopic" });
  });

  it("answers retry quickly when APNs does not answer, and keeps the connection", async () => {
    const provider = apns({ timeoutMs: 100 });
    fake.answerNext(apnsAnswers.hang());
    expect(await provider.send(message())).toEqual({
      outcome: "retry",
      reason: "no answer within 100 ms",
    });
    expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
    expect(fake.connections).toBe(1);
  });

  it("drops a connection that stops answering, after a timeout, and reconnects", async () => {
    const proxy = await new StallingProxy(new URL(fake.url)).start();
    try {
      const provider = apns({ baseUrl: proxy.url, timeoutMs: 100 });
      expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
      proxy.stall();
      expect(await provider.send(message())).toEqual({
        outcome: "retry",
        reason: "no answer within 100 ms",
      });
      // The PING after the timeout goes unanswered too: the connection is dropped.
      const dropped = "APNs connection does not answer: reconnecting";
      await waitFor(() => (logger.entries.some((e) => e.msg === dropped) ? true : undefined));
      expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
      expect(fake.connections).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it("reconnects after a GOAWAY", async () => {
    const provider = apns();
    await provider.send(message());
    fake.answerNext(apnsAnswers.goaway());
    expect(await provider.send(message())).toMatchObject({ outcome: "retry" });
    expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
    expect(fake.connections).toBe(2);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ msg: "APNs sent GOAWAY: will reconnect" }),
    );
  });

  it("reconnects after the connection is cut", async () => {
    const provider = apns();
    fake.answerNext(apnsAnswers.close());
    expect(await provider.send(message())).toMatchObject({ outcome: "retry" });
    expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
    expect(fake.connections).toBe(2);
  });

  it("reconnects after APNs restarts", async () => {
    const provider = apns();
    await provider.send(message());
    await fake.restart();
    expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
    expect(fake.connections).toBe(2);
  });

  it("rejects with the signal's reason when aborted, and only then", async () => {
    const provider = apns();
    fake.answerNext(apnsAnswers.hang());
    const controller = new AbortController();
    const sending = provider.send(message(), controller.signal);
    await waitFor(() => (fake.requests.length === 1 ? true : undefined));
    controller.abort(new Error("shutting down"));
    await expect(sending).rejects.toThrow("shutting down");
    await expect(provider.send(message(), controller.signal)).rejects.toThrow("shutting down");
  });
});

describe("circuit breaker", () => {
  it("opens after consecutive outages and answers retry without a request", async () => {
    const provider = apns({ breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 } });
    fake.answerNext(apnsAnswers.serviceUnavailable(), 2).answerNext(apnsAnswers.close());
    for (let i = 0; i < 3; i++) {
      expect(await provider.send(message())).toMatchObject({ outcome: "retry" });
    }
    expect(await provider.send(message())).toEqual({
      outcome: "retry",
      reason: "circuit open",
      notSent: true,
    });
    expect(fake.requests).toHaveLength(3);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", msg: "apns circuit opened: failing fast" }),
    );
  });

  it("lets a probe through after halfOpenAfterMs and closes on success", async () => {
    const provider = apns({ breaker: { consecutiveFailures: 2, halfOpenAfterMs: 50 } });
    fake.answerNext(apnsAnswers.internalServerError(), 2);
    await provider.send(message());
    await provider.send(message());
    expect(await provider.send(message())).toEqual({
      outcome: "retry",
      reason: "circuit open",
      notSent: true,
    });
    await sleep(80);
    expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
    expect(await provider.send(message())).toMatchObject({ outcome: "sent" });
  });

  it("does not open on 429s or on refusals of our own requests", async () => {
    const provider = apns({ breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } });
    fake.answerNext(apnsAnswers.tooManyRequests(), 3).answerNext(apnsAnswers.badDeviceToken(), 3);
    for (let i = 0; i < 6; i++) await provider.send(message());
    expect(fake.requests).toHaveLength(6);
  });
});

describe("rate cap", () => {
  it("answers retry without a request once the second's requests are spent", async () => {
    const provider = apns({ ratePerSecond: 2, maxRateWaitMs: 0 });
    const results = await Promise.all([1, 2, 3].map(() => provider.send(message())));
    expect(results.map((r) => r.outcome)).toEqual(["sent", "sent", "retry"]);
    expect(results[2]).toMatchObject({ reason: "rate cap", retryAfterMs: expect.any(Number) });
    expect((results[2] as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect(fake.requests).toHaveLength(2);
  });

  it("lets a request wait its turn when the wait is short", async () => {
    const provider = apns({ ratePerSecond: 20, maxRateWaitMs: 1_000 });
    const results = await Promise.all(Array.from({ length: 22 }, () => provider.send(message())));
    expect(results.every((r) => r.outcome === "sent")).toBe(true);
    expect(fake.delivered).toHaveLength(22);
  });
});

describe("logs and metrics", () => {
  it("never logs a device token in full, the key or a provider token", async () => {
    const provider = apns({ timeoutMs: 100 });
    fake
      .answerNext(apnsAnswers.unregistered())
      .answerNext(apnsAnswers.tooManyRequests(1))
      .answerNext(apnsAnswers.invalidProviderToken())
      .answerNext(apnsAnswers.hang())
      .answerNext(apnsAnswers.goaway());
    for (let i = 0; i < 5; i++) await provider.send(message());
    await provider.send(message({ data: { big: "x".repeat(5000) } }));

    const logged = JSON.stringify(logger.entries);
    expect(logger.entries.length).toBeGreaterThanOrEqual(6);
    expect(logged).toContain(deviceToken.slice(-6));
    expect(logged).not.toContain(deviceToken.slice(-7));
    for (const jwt of fake.jwts) expect(logged).not.toContain(jwt.split(".")[2]);
    const keyBody = key.privateKeyPem.split("\n")[1] ?? "";
    expect(logged).not.toContain(keyBody);
  });

  it("counts results by provider and outcome, and times requests", async () => {
    const provider = apns();
    fake.answerNext(apnsAnswers.unregistered()).answerNext(apnsAnswers.serviceUnavailable());
    await provider.send(message());
    await provider.send(message());
    await provider.send(message());
    await provider.send(message({ data: { big: "x".repeat(5000) } }));

    expect(await requestsByOutcome()).toEqual({
      "apns:invalid_token": 1,
      "apns:retry": 1,
      "apns:sent": 1,
      "apns:failed": 1,
    });
    const duration = await registry
      .getSingleMetric("kindred_notifier_push_duration_seconds")
      ?.get();
    const count = duration?.values.find(
      (v) =>
        (v as { metricName?: string }).metricName ===
        "kindred_notifier_push_duration_seconds_count",
    );
    expect(count).toMatchObject({ labels: { provider: "apns" }, value: 3 });
  });

  it("shares the push metrics with another provider on the same registry", async () => {
    const fcm = pushMetrics(registry);
    fcm.requests.inc({ provider: "fcm", outcome: "sent" });
    await apns().send(message());
    await apns().send(message());
    expect(await requestsByOutcome()).toEqual({ "fcm:sent": 1, "apns:sent": 2 });
  });
});

describe("close", () => {
  it("closes the connection", async () => {
    const provider = apns();
    await provider.send(message());
    expect(fake.openConnections).toBe(1);
    await provider[Symbol.asyncDispose]();
    await waitFor(() => (fake.openConnections === 0 ? true : undefined));
  });
});
