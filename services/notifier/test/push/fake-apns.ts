import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { errors, exportPKCS8, generateKeyPair, jwtVerify } from "jose";

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

/** The fake's self-signed certificate: pass it as the provider's `ca`. Test only. */
export const fakeApnsCa = fixture("fake-apns-cert.pem");
const fakeApnsKey = fixture("fake-apns-key.pem");

type PublicKey = Awaited<ReturnType<typeof generateKeyPair>>["publicKey"];

/** A throwaway .p8-style signing key: the private key as PKCS#8 PEM, the public key for the fake. */
export async function generateApnsKey(): Promise<{ privateKeyPem: string; publicKey: PublicKey }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { privateKeyPem: await exportPKCS8(privateKey), publicKey };
}

/** How the fake answers a request it has accepted (authenticated, headers valid). */
export type FakeApnsAnswer =
  /** A status with Apple's `{"reason"}` body (and `timestamp` for 410), optional headers. */
  | {
      kind: "reply";
      status: number;
      reason: string;
      timestamp?: number;
      headers?: OutgoingHttpHeaders;
    }
  /** No answer at all (for timeouts); the stream stays open until the client gives up. */
  | { kind: "hang" }
  /** GOAWAY refusing this request, then the connection closes, as APNs does when it shuts down. */
  | { kind: "goaway" }
  /** The connection is cut without a word. */
  | { kind: "close" };

/** Apple's documented answers, ready to script. */
export const apnsAnswers = {
  unregistered: (timestamp = Date.now()): FakeApnsAnswer => ({
    kind: "reply",
    status: 410,
    reason: "Unregistered",
    timestamp,
  }),
  badDeviceToken: (): FakeApnsAnswer => ({ kind: "reply", status: 400, reason: "BadDeviceToken" }),
  deviceTokenNotForTopic: (): FakeApnsAnswer => ({
    kind: "reply",
    status: 400,
    reason: "DeviceTokenNotForTopic",
  }),
  payloadTooLarge: (): FakeApnsAnswer => ({
    kind: "reply",
    status: 413,
    reason: "PayloadTooLarge",
  }),
  tooManyRequests: (retryAfterSeconds?: number): FakeApnsAnswer => ({
    kind: "reply",
    status: 429,
    reason: "TooManyRequests",
    ...(retryAfterSeconds === undefined
      ? {}
      : { headers: { "retry-after": String(retryAfterSeconds) } }),
  }),
  expiredProviderToken: (): FakeApnsAnswer => ({
    kind: "reply",
    status: 403,
    reason: "ExpiredProviderToken",
  }),
  invalidProviderToken: (): FakeApnsAnswer => ({
    kind: "reply",
    status: 403,
    reason: "InvalidProviderToken",
  }),
  internalServerError: (): FakeApnsAnswer => ({
    kind: "reply",
    status: 500,
    reason: "InternalServerError",
  }),
  serviceUnavailable: (retryAfterSeconds?: number): FakeApnsAnswer => ({
    kind: "reply",
    status: 503,
    reason: "ServiceUnavailable",
    ...(retryAfterSeconds === undefined
      ? {}
      : { headers: { "retry-after": String(retryAfterSeconds) } }),
  }),
  hang: (): FakeApnsAnswer => ({ kind: "hang" }),
  goaway: (): FakeApnsAnswer => ({ kind: "goaway" }),
  close: (): FakeApnsAnswer => ({ kind: "close" }),
};

export interface FakeApnsOptions {
  teamId: string;
  keyId: string;
  /** The public half of the key the provider signs with. */
  publicKey: PublicKey;
  /** The only `apns-topic` accepted. */
  bundleId: string;
  /** The fake's clock, for the provider token's age (older than an hour: expired). */
  now?: () => Date;
}

export interface FakeApnsRequest {
  method: string;
  path: string;
  /** The device token from `/3/device/<token>`. */
  token: string;
  headers: IncomingHttpHeaders;
  /** The provider token from `authorization: bearer …`. */
  jwt: string | undefined;
  /** The body as sent. */
  raw: string;
  /** The parsed body; `undefined` when it was not JSON. */
  body: unknown;
  /** What the fake answered: a status, or `hang`/`goaway`/`close`. */
  answer: number | "hang" | "goaway" | "close";
  /** The `apns-id` of the answer, if it got one. */
  apnsId?: string;
}

const pushTypes = new Set([
  "alert",
  "background",
  "location",
  "voip",
  "complication",
  "fileprovider",
  "mdm",
  "liveactivity",
  "pushtotalk",
]);

/**
 * A local APNs (HTTP/2 over TLS on 127.0.0.1, port 0) that authenticates provider tokens and
 * checks headers as Apple does, records every request, and can be scripted per device token or
 * for the next requests. For the provider's tests and for end-to-end tests of notifier.
 */
export class FakeApns implements AsyncDisposable {
  readonly #options: FakeApnsOptions;
  readonly #now: () => Date;
  #server: Http2SecureServer;
  #port = 0;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #hanging = new Set<ServerHttp2Stream>();
  readonly #next: FakeApnsAnswer[] = [];
  readonly #byToken = new Map<string, FakeApnsAnswer>();
  /** Every request, in order, whatever it was answered. */
  readonly requests: FakeApnsRequest[] = [];
  /** Every distinct provider token presented, valid or not, in order. */
  readonly jwts: string[] = [];
  /** How many HTTP/2 connections clients opened. */
  connections = 0;
  /** The base URL to configure. */
  url = "";

  private constructor(options: FakeApnsOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#server = this.#createServer();
  }

  static async start(options: FakeApnsOptions): Promise<FakeApns> {
    const fake = new FakeApns(options);
    await fake.#listen(0);
    fake.url = `https://127.0.0.1:${fake.#port}`;
    return fake;
  }

  /** How many HTTP/2 connections are open now. */
  get openConnections(): number {
    return this.#sessions.size;
  }

  /** The requests that were answered 200. */
  get delivered(): FakeApnsRequest[] {
    return this.requests.filter((r) => r.answer === 200);
  }

  /** The next `count` accepted requests get `answer`, before any answer scripted per token. */
  answerNext(answer: FakeApnsAnswer, count = 1): this {
    for (let i = 0; i < count; i++) this.#next.push(answer);
    return this;
  }

  /** Every accepted request to `token` gets `answer` (until `clearAnswers`). */
  answerToken(token: string, answer: FakeApnsAnswer): this {
    this.#byToken.set(token, answer);
    return this;
  }

  clearAnswers(): this {
    this.#next.length = 0;
    this.#byToken.clear();
    return this;
  }

  /** Cuts every connection and listens again on the same port, as a restarted server would. */
  async restart(): Promise<void> {
    await this.#shutdown();
    this.#server = this.#createServer();
    await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    await this.#shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #createServer(): Http2SecureServer {
    const server = createSecureServer({ key: fakeApnsKey, cert: fakeApnsCa });
    server.on("session", (session) => {
      this.connections++;
      this.#sessions.add(session);
      session.on("close", () => this.#sessions.delete(session));
      session.on("error", () => {});
    });
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      this.#handle(stream, headers).catch(() => {
        if (!stream.destroyed && !stream.headersSent) {
          stream.respond({ ":status": 500 });
          stream.end(JSON.stringify({ reason: "InternalServerError" }));
        }
      });
    });
    return server;
  }

  async #listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  async #shutdown(): Promise<void> {
    for (const stream of this.#hanging) stream.destroy();
    this.#hanging.clear();
    for (const session of this.#sessions) session.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const method = String(headers[":method"]);
    const path = String(headers[":path"]);
    const token = /^\/3\/device\/([^/?]*)$/.exec(path)?.[1] ?? "";
    const authorization = headers.authorization;
    const jwt =
      typeof authorization === "string" && authorization.startsWith("bearer ")
        ? authorization.slice("bearer ".length)
        : undefined;
    if (jwt !== undefined && !this.jwts.includes(jwt)) this.jwts.push(jwt);
    const request: FakeApnsRequest = { method, path, token, headers, jwt, raw, body, answer: 0 };
    this.requests.push(request);

    const refusal = (await this.#authProblem(jwt)) ?? this.#requestProblem(request);
    const answer: FakeApnsAnswer = refusal ??
      this.#next.shift() ??
      this.#byToken.get(token) ?? { kind: "reply", status: 200, reason: "" };
    request.answer = answer.kind === "reply" ? answer.status : answer.kind;
    if (answer.kind === "reply") request.apnsId = randomUUID().toUpperCase();
    this.#answer(stream, answer, request.apnsId);
  }

  #answer(stream: ServerHttp2Stream, answer: FakeApnsAnswer, apnsId: string = randomUUID()): void {
    switch (answer.kind) {
      case "hang":
        this.#hanging.add(stream);
        stream.on("close", () => this.#hanging.delete(stream));
        return;
      case "goaway": {
        const { session } = stream;
        if (session === undefined) return;
        session.goaway(
          constants.NGHTTP2_NO_ERROR,
          Math.max(0, (stream.id ?? 0) - 2),
          Buffer.from(JSON.stringify({ reason: "Shutdown" })),
        );
        stream.close(constants.NGHTTP2_REFUSED_STREAM);
        session.close();
        return;
      }
      case "close":
        stream.session?.destroy();
        return;
      case "reply": {
        if (answer.status === 200) {
          stream.respond({ ":status": 200, "apns-id": apnsId });
          stream.end();
          return;
        }
        stream.respond({
          ":status": answer.status,
          "apns-id": apnsId,
          "content-type": "application/json",
          ...answer.headers,
        });
        stream.end(
          JSON.stringify({
            reason: answer.reason,
            ...(answer.timestamp === undefined ? {} : { timestamp: answer.timestamp }),
          }),
        );
      }
    }
  }

  /** Apple's checks of the provider token: signature, `kid`, `iss`, and an `iat` under an hour. */
  async #authProblem(jwt: string | undefined): Promise<FakeApnsAnswer | undefined> {
    const refuse = (reason: string): FakeApnsAnswer => ({ kind: "reply", status: 403, reason });
    if (jwt === undefined) return refuse("MissingProviderToken");
    try {
      const { protectedHeader } = await jwtVerify(jwt, this.#options.publicKey, {
        algorithms: ["ES256"],
        issuer: this.#options.teamId,
        requiredClaims: ["iat"],
        maxTokenAge: "1h",
        currentDate: this.#now(),
      });
      if (protectedHeader.kid !== this.#options.keyId) return refuse("InvalidProviderToken");
      return undefined;
    } catch (err) {
      if (err instanceof errors.JWTExpired) return refuse("ExpiredProviderToken");
      return refuse("InvalidProviderToken");
    }
  }

  /** Apple's checks of the path, headers and payload. */
  #requestProblem(r: FakeApnsRequest): FakeApnsAnswer | undefined {
    const refuse = (status: number, reason: string): FakeApnsAnswer => ({
      kind: "reply",
      status,
      reason,
    });
    const header = (name: string) => {
      const value = r.headers[name];
      return typeof value === "string" ? value : undefined;
    };
    if (r.method !== "POST") return refuse(405, "MethodNotAllowed");
    if (!r.path.startsWith("/3/device/")) return refuse(404, "BadPath");
    if (r.token === "") return refuse(400, "MissingDeviceToken");
    if (!/^[0-9a-f]+$/i.test(r.token)) return refuse(400, "BadDeviceToken");
    const topic = header("apns-topic");
    if (topic === undefined) return refuse(400, "MissingTopic");
    if (topic !== this.#options.bundleId) return refuse(400, "BadTopic");
    // Apple only requires it for watchOS; the fake requires it, as the provider always sends it.
    const pushType = header("apns-push-type");
    if (pushType === undefined || !pushTypes.has(pushType)) return refuse(400, "InvalidPushType");
    const priority = header("apns-priority");
    if (priority !== undefined && !["1", "5", "10"].includes(priority)) {
      return refuse(400, "BadPriority");
    }
    const expiration = header("apns-expiration");
    if (expiration !== undefined && !/^\d+$/.test(expiration)) {
      return refuse(400, "BadExpirationDate");
    }
    const collapseId = header("apns-collapse-id");
    if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) {
      return refuse(400, "BadCollapseId");
    }
    if (r.raw === "") return refuse(400, "PayloadEmpty");
    if (Buffer.byteLength(r.raw) > 4096) return refuse(413, "PayloadTooLarge");
    // Apple does not document the reason for a body that is not JSON; the fake's own word.
    if (typeof r.body !== "object" || r.body === null) return refuse(400, "BadPayload");
    return undefined;
  }
}
