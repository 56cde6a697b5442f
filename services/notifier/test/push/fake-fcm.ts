import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type CryptoKey,
  decodeProtectedHeader,
  exportPKCS8,
  generateKeyPair,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { z } from "zod";

export const fcmScope = "https://www.googleapis.com/auth/firebase.messaging";
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** A service-account key file like the one Google's console downloads, and its public key. */
export interface TestServiceAccount {
  json: string;
  projectId: string;
  clientEmail: string;
  privateKeyId: string;
  publicKey: CryptoKey;
}

/** A fresh RSA key in a service-account JSON whose `token_uri` is `tokenUri`. */
export async function createTestServiceAccount(options: {
  tokenUri: string;
  projectId?: string;
}): Promise<TestServiceAccount> {
  const projectId = options.projectId ?? "kindred-test";
  const pair = await generateKeyPair("RS256", { extractable: true });
  const privateKeyId = randomBytes(20).toString("hex");
  const clientEmail = `firebase-adminsdk-test@${projectId}.iam.gserviceaccount.com`;
  const json = JSON.stringify({
    type: "service_account",
    project_id: projectId,
    private_key_id: privateKeyId,
    private_key: await exportPKCS8(pair.privateKey),
    client_email: clientEmail,
    client_id: "100000000000000000000",
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: options.tokenUri,
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: "googleapis.com",
  });
  return { json, projectId, clientEmail, privateKeyId, publicKey: pair.publicKey };
}

/** An FCM error answer: status, Google's error body, and an optional `Retry-After`. */
export interface FcmErrorReply {
  status: number;
  body: {
    error: { code: number; message: string; status: string; details?: Record<string, unknown>[] };
  };
  retryAfter?: string;
}

/** What the fake does with a request instead of answering normally. */
export type FakeReply = FcmErrorReply | "hang";

function fcmError(
  status: number,
  grpcStatus: string,
  message: string,
  errorCode?: string,
  retryAfter?: string,
): FcmErrorReply {
  const details =
    errorCode === undefined
      ? undefined
      : [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }];
  return {
    status,
    body: { error: { code: status, message, status: grpcStatus, ...(details && { details }) } },
    ...(retryAfter !== undefined && { retryAfter }),
  };
}

/** FCM's answers, as the real service words them. */
export const fcmReplies = {
  unregistered: () => fcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"),
  invalidToken: () =>
    fcmError(
      400,
      "INVALID_ARGUMENT",
      "The registration token is not a valid FCM registration token",
      "INVALID_ARGUMENT",
    ),
  invalidArgument: (
    message = "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)",
  ) => fcmError(400, "INVALID_ARGUMENT", message, "INVALID_ARGUMENT"),
  senderIdMismatch: () =>
    fcmError(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"),
  quotaExceeded: (retryAfter?: string) =>
    fcmError(
      429,
      "RESOURCE_EXHAUSTED",
      "Quota exceeded for quota metric 'Send requests'",
      "QUOTA_EXCEEDED",
      retryAfter,
    ),
  unavailable: (retryAfter?: string) =>
    fcmError(
      503,
      "UNAVAILABLE",
      "The service is currently unavailable.",
      "UNAVAILABLE",
      retryAfter,
    ),
  internal: () => fcmError(500, "INTERNAL", "Internal error encountered.", "INTERNAL"),
  unauthenticated: () =>
    fcmError(
      401,
      "UNAUTHENTICATED",
      "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
    ),
  thirdPartyAuthError: () =>
    fcmError(
      401,
      "UNAUTHENTICATED",
      "Auth error from APNS or Web Push Service",
      "THIRD_PARTY_AUTH_ERROR",
    ),
  permissionDenied: () =>
    fcmError(
      403,
      "PERMISSION_DENIED",
      "Permission 'cloudmessaging.messages.create' denied on resource (or it may not exist).",
    ),
} as const;

/** What the token endpoint does instead of issuing a token. */
export type TokenEndpointReply = { status: number; body: unknown } | "hang";

/** A `messages:send` request the fake received, whatever it answered. */
export interface RecordedSend {
  projectId: string;
  headers: IncomingMessage["headers"];
  body: unknown;
  /** The bearer token presented. */
  accessToken: string | undefined;
  /** What the fake answered (0: it hung). */
  status: number;
}

/** A `/token` request whose assertion the fake accepted. */
export interface RecordedAssertion {
  contentType: string | undefined;
  grantType: string | null;
  /** The raw JWT: tests check that it never reaches a log. */
  jwt: string;
  header: JWTHeaderParameters;
  claims: JWTPayload;
}

const androidNotificationSchema = z.strictObject({
  channel_id: z.string().optional(),
  title: z.string().optional(),
  body: z.string().optional(),
  sound: z.string().optional(),
  tag: z.string().optional(),
  notification_priority: z.string().optional(),
});

const messageSchema = z.strictObject({
  token: z.string().min(1),
  notification: z
    .strictObject({ title: z.string().optional(), body: z.string().optional() })
    .optional(),
  data: z.record(z.string(), z.string()).optional(),
  android: z
    .strictObject({
      priority: z.enum(["HIGH", "NORMAL"]).optional(),
      ttl: z
        .string()
        .regex(/^\d+(\.\d{1,9})?s$/, "ttl must be a Duration in seconds, like 3600s")
        .optional(),
      collapse_key: z.string().optional(),
      restricted_package_name: z.string().optional(),
      data: z.record(z.string(), z.string()).optional(),
      notification: androidNotificationSchema.optional(),
      direct_boot_ok: z.boolean().optional(),
    })
    .optional(),
});

const sendSchema = z.strictObject({
  message: messageSchema,
  validate_only: z.boolean().optional(),
});

export interface FakeFcmOptions {
  projectId?: string;
  /** `expires_in` of the access tokens it issues. Default 3599, as Google. */
  accessTokenTtlSeconds?: number;
  /** The fake's clock, for the assertion's `exp` and access tokens' expiry. */
  now?: () => Date;
}

/**
 * Google's OAuth token endpoint and FCM HTTP v1 in one local server, strict where they are:
 * `POST /token` verifies the service-account assertion (RS256 with the account's key, `kid`,
 * `iss`, `aud`, `scope`, a lifetime of at most an hour) and issues access tokens;
 * `POST /v1/projects/:p/messages:send` accepts only a live token it issued, validates the
 * message, records every request, and answers with a message name, or what a test scripted.
 */
export class FakeFcm implements AsyncDisposable {
  readonly #server: Server;
  readonly #now: () => Date;
  readonly #ttlSeconds: number;
  /** Issued access tokens and when they expire (ms). */
  readonly #accessTokens = new Map<string, number>();
  readonly #byDeviceToken = new Map<string, FakeReply>();
  readonly #nextSends: FakeReply[] = [];
  readonly #nextTokenRequests: TokenEndpointReply[] = [];
  #messageCount = 0;
  /** Every `messages:send` request, in order. */
  readonly sends: RecordedSend[] = [];
  /** Every accepted assertion, in order. */
  readonly assertions: RecordedAssertion[] = [];
  /** Why `/token` or `messages:send` refused a request: tests assert what the fake caught. */
  readonly refusals: string[] = [];
  /** Every `/token` request, scripted failures included. */
  tokenRequests = 0;
  readonly url: string;
  /** The account whose key the token endpoint trusts; `token_uri` points here. */
  readonly serviceAccount: TestServiceAccount;

  private constructor(
    server: Server,
    url: string,
    serviceAccount: TestServiceAccount,
    options: FakeFcmOptions,
  ) {
    this.#server = server;
    this.url = url;
    this.serviceAccount = serviceAccount;
    this.#now = options.now ?? (() => new Date());
    this.#ttlSeconds = options.accessTokenTtlSeconds ?? 3599;
  }

  static async start(options: FakeFcmOptions = {}): Promise<FakeFcm> {
    let fake: FakeFcm | undefined;
    const server = createServer((req, res) => {
      if (fake === undefined) return json(res, 503, {});
      fake.#handle(req, res).catch((err: unknown) => {
        json(res, 500, { error: { code: 500, message: String(err), status: "INTERNAL" } });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const account = await createTestServiceAccount({
      tokenUri: `${url}/token`,
      projectId: options.projectId,
    });
    fake = new FakeFcm(server, url, account, options);
    return fake;
  }

  get tokenUri(): string {
    return `${this.url}/token`;
  }

  /** Every access token issued so far: tests check that none reaches a log. */
  get issuedAccessTokens(): string[] {
    return [...this.#accessTokens.keys()];
  }

  /** Answers every send to `deviceToken` this way (until `clearDeviceToken`). */
  failDeviceToken(deviceToken: string, reply: FakeReply): void {
    this.#byDeviceToken.set(deviceToken, reply);
  }

  clearDeviceToken(deviceToken: string): void {
    this.#byDeviceToken.delete(deviceToken);
  }

  /** Answers the next `count` authenticated, well-formed sends this way. */
  failNextSends(count: number, reply: FakeReply): void {
    for (let i = 0; i < count; i++) this.#nextSends.push(reply);
  }

  /** Answers the next `count` token requests this way. */
  failNextTokenRequests(count: number, reply: TokenEndpointReply): void {
    for (let i = 0; i < count; i++) this.#nextTokenRequests.push(reply);
  }

  /** Every access token issued so far is refused from now on (401), as after expiry. */
  revokeAccessTokens(): void {
    for (const token of this.#accessTokens.keys()) this.#accessTokens.set(token, 0);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      this.#server.close((err) => (err ? reject(err) : resolve())),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    if (req.method === "POST" && url.pathname === "/token") return this.#token(req, res);
    const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
    if (req.method === "POST" && send?.[1] !== undefined) {
      return this.#send(req, res, decodeURIComponent(send[1]));
    }
    json(res, 404, { error: { code: 404, message: "Not Found", status: "NOT_FOUND" } });
  }

  async #token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.tokenRequests++;
    const text = await readBody(req);
    const scripted = this.#nextTokenRequests.shift();
    if (scripted === "hang") return;
    if (scripted !== undefined) return json(res, scripted.status, scripted.body);

    const refuse = (error: string, description: string) => {
      this.refusals.push(`token: ${description}`);
      json(res, 400, { error, error_description: description });
    };
    const contentType = req.headers["content-type"];
    if (contentType?.split(";")[0]?.trim() !== "application/x-www-form-urlencoded") {
      return refuse("invalid_request", "content type must be application/x-www-form-urlencoded");
    }
    const form = new URLSearchParams(text);
    const grantType = form.get("grant_type");
    if (grantType !== jwtBearerGrant) {
      return refuse("unsupported_grant_type", "Invalid grant_type");
    }
    const jwt = form.get("assertion") ?? "";
    const account = this.serviceAccount;
    let header: JWTHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(jwt) as JWTHeaderParameters;
      if (header.kid !== account.privateKeyId)
        return refuse("invalid_grant", "Invalid JWT Signature.");
      ({ payload: claims } = await jwtVerify(jwt, account.publicKey, {
        algorithms: ["RS256"],
        issuer: account.clientEmail,
        audience: this.tokenUri,
        currentDate: this.#now(),
        requiredClaims: ["iat", "exp"],
      }));
    } catch (err) {
      return refuse("invalid_grant", `Invalid JWT: ${(err as Error).message}`);
    }
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : [];
    if (!scopes.includes(fcmScope)) return refuse("invalid_scope", "Invalid OAuth scope");
    const iat = claims.iat ?? 0;
    const exp = claims.exp ?? 0;
    const nowSeconds = this.#now().getTime() / 1000;
    if (exp - iat > 3600 || iat > nowSeconds + 300) {
      return refuse(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
      );
    }
    this.assertions.push({ contentType, grantType, jwt, header, claims });
    const accessToken = `ya29.fake-${randomBytes(24).toString("base64url")}`;
    this.#accessTokens.set(accessToken, this.#now().getTime() + this.#ttlSeconds * 1000);
    json(res, 200, {
      access_token: accessToken,
      expires_in: this.#ttlSeconds,
      token_type: "Bearer",
    });
  }

  async #send(req: IncomingMessage, res: ServerResponse, projectId: string): Promise<void> {
    const text = await readBody(req);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const body = parseJson(text);
    const record: RecordedSend = {
      projectId,
      headers: req.headers,
      body,
      accessToken: bearer,
      status: 0,
    };
    this.sends.push(record);
    const reply = (r: FcmErrorReply | { status: 200; body: unknown }) => {
      record.status = r.status;
      const headers: Record<string, string> =
        "retryAfter" in r && r.retryAfter ? { "retry-after": r.retryAfter } : {};
      json(res, r.status, r.body, headers);
    };

    const expiresAt = bearer === undefined ? undefined : this.#accessTokens.get(bearer);
    if (expiresAt === undefined || expiresAt <= this.#now().getTime()) {
      this.refusals.push("send: no live access token");
      return reply(fcmReplies.unauthenticated());
    }
    if (projectId !== this.serviceAccount.projectId) {
      this.refusals.push(`send: unknown project ${projectId}`);
      return reply(fcmReplies.permissionDenied());
    }
    if (req.headers["content-type"]?.split(";")[0]?.trim() !== "application/json") {
      this.refusals.push("send: content type is not application/json");
      return reply(fcmError(400, "INVALID_ARGUMENT", "Invalid JSON payload received."));
    }
    const parsed = sendSchema.safeParse(body);
    if (!parsed.success) {
      const violations = parsed.error.issues.map((issue) => ({
        field: issue.path.map(String).join("."),
        description: issue.message,
      }));
      this.refusals.push(
        `send: ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`,
      );
      const r = fcmError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
      r.body.error.details = [
        { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: violations },
      ];
      return reply(r);
    }

    const scripted = this.#nextSends.shift() ?? this.#byDeviceToken.get(parsed.data.message.token);
    if (scripted === "hang") return;
    if (scripted !== undefined) return reply(scripted);
    this.#messageCount++;
    reply({
      status: 200,
      body: { name: `projects/${projectId}/messages/0:${this.#messageCount}%fake` },
    });
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", ...headers });
  res.end(JSON.stringify(body));
}
