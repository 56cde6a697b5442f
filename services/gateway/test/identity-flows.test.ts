import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { buildApp as buildContent } from "@kindred/content/app";
import { loadContentConfig } from "@kindred/content/config";
import { circlesEvents, circlesStream } from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import { buildApp as buildIdentity, type IdentityApp } from "@kindred/identity/app";
import { loadIdentityConfig } from "@kindred/identity/config";
import { CircleRole } from "@kindred/proto/circles/v1";
import { PostService } from "@kindred/proto/content/v1";
import { AuthService, UserService } from "@kindred/proto/identity/v1";
import type { ServiceHost } from "@kindred/runtime";
import {
  connectErrorOf,
  deleteNamespaceStreams,
  publishTestEvent,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitUntil } from "@kindred/testing";
import { decodeJwt, exportSPKI, generateKeyPair, importJWK, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadGatewayConfig, upstreamNames } from "../src/config.ts";

/**
 * Issue 4's rules where a client meets them: through the gateway, with the real identity and
 * content services behind it, each verifying tokens itself against identity's JWKS and
 * following identity's revocations over NATS.
 */
const namespace = uniqueName("idflow");
const disposables: AsyncDisposable[] = [];
const stubs: Server[] = [];
let identity: IdentityApp;
let content: ServiceHost;
let gateway: ServiceHost;

async function readyStub(): Promise<string> {
  const server = createServer((req, res) => res.writeHead(req.url === "/readyz" ? 200 : 404).end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  stubs.push(server);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

beforeAll(async () => {
  const identityDb = await createTestDatabase("gw_identity");
  const contentDb = await createTestDatabase("gw_content");
  disposables.push(identityDb, contentDb);
  identity = buildIdentity(
    loadIdentityConfig(
      testServiceEnv({
        database: identityDb,
        extra: { EVENTS_NAMESPACE: namespace, REFRESH_TOKEN_GRACE_SECONDS: "1" },
      }),
    ),
  );
  await startReady(identity.host);
  disposables.unshift(identity.host);
  const jwksUrl = `${identity.host.url}/.well-known/jwks.json`;
  content = await startReady(
    buildContent(
      loadContentConfig(
        testServiceEnv({
          database: contentDb,
          extra: { EVENTS_NAMESPACE: namespace, AUTH_JWKS_URL: jwksUrl },
        }),
      ),
    ).host,
  );
  disposables.unshift(content);
  const upstreams: Record<string, string> = {
    IDENTITY_URL: identity.host.url,
    CONTENT_URL: content.url,
  };
  for (const name of upstreamNames.filter((n) => n !== "identity" && n !== "content")) {
    upstreams[`${name.toUpperCase()}_URL`] = await readyStub();
  }
  gateway = await startReady(
    createApp(
      loadGatewayConfig(testServiceEnv({ extra: { ...upstreams, EVENTS_NAMESPACE: namespace } })),
    ),
  );
  disposables.unshift(gateway);
}, 60_000);

afterAll(async () => {
  for (const d of disposables) await d[Symbol.asyncDispose]();
  for (const stub of stubs) stub.close();
  await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace));
});

function transportTo(
  baseUrl: string,
  headers: Record<string, string> = {},
  binary = false,
): Transport {
  return createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    useBinaryFormat: binary,
    interceptors: [
      (next) => (req) => {
        for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
        return next(req);
      },
    ],
  });
}

/** Clients of the public API at the gateway, optionally with a bearer token. */
function edge(token?: string, binary = false) {
  const transport = transportTo(
    gateway.url,
    token === undefined ? {} : { authorization: `Bearer ${token}` },
    binary,
  );
  return {
    auth: createClient(AuthService, transport),
    users: createClient(UserService, transport),
    posts: createClient(PostService, transport),
  };
}

/** Content called directly, bypassing the gateway: it must refuse bad tokens by itself. */
const contentDirect = (token: string) =>
  createClient(PostService, transportTo(content.url, { authorization: `Bearer ${token}` }));

let n = 0;
function account() {
  n += 1;
  return {
    email: `flow.${n}.${Date.now()}@example.org`,
    password: `a long and quiet walk ${n}`,
    displayName: `Flow ${n}`,
  };
}

const circleId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
let circleVersion = 0n;

/** Makes a user a member of `circleId` the way circles would: by its event, which content follows. */
async function joinCircle(userId: string | undefined): Promise<void> {
  circleVersion += 1n;
  await publishTestEvent({
    natsUrl: testEnv.natsUrl,
    namespace: eventNamespace(namespace),
    stream: circlesStream,
    event: circlesEvents.memberJoined,
    message: {
      circleId,
      userId: userId ?? "",
      role: CircleRole.MEMBER,
      joinedAt: timestampFromDate(new Date()),
      circleVersion,
    },
    aggregateId: circleId,
  });
}
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "ok",
    (err: { code?: Code }) => Code[err.code ?? Code.Unknown],
  );

describe("identity through the gateway", () => {
  it("registers, signs in and calls identity and content with the token, in JSON and binary", async () => {
    const input = account();
    const { user, tokens } = await edge().auth.register(input);
    await joinCircle(user?.id);
    const token = tokens?.accessToken ?? "";
    const binary = edge(token, true);
    expect((await binary.users.getMe({})).user).toMatchObject({ id: user?.id, email: input.email });
    const { post } = await binary.posts.createPost({ circleId, body: "first words" });
    expect(post?.authorId).toBe(user?.id);
    const login = await edge().auth.login({ email: input.email, password: input.password });
    expect(login.user?.id).toBe(user?.id);

    const jwks = await fetch(`${gateway.url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    const { keys } = (await jwks.json()) as { keys: { kid: string }[] };
    expect(keys.map((k) => k.kid)).toContain(String(decodeProtectedKid(token)));
  });

  it("lets only one of two concurrent refreshes rotate; both get the same pair", async () => {
    const { tokens } = await edge().auth.register(account());
    const refreshToken = tokens?.refreshToken ?? "";
    const [a, b] = await Promise.all([
      edge().auth.refresh({ refreshToken }),
      edge().auth.refresh({ refreshToken }),
    ]);
    expect(a.tokens).toEqual(b.tokens);
    await edge().auth.refresh({ refreshToken: a.tokens?.refreshToken ?? "" });
  });

  it("revokes the family on reuse after the grace period; its access token is refused everywhere within seconds", async () => {
    const { user, tokens } = await edge().auth.register(account());
    await joinCircle(user?.id);
    const next = await edge().auth.refresh({ refreshToken: tokens?.refreshToken ?? "" });
    const live = next.tokens?.accessToken ?? "";
    await contentDirect(live).createPost({ circleId, body: "still fine" });
    await new Promise((r) => setTimeout(r, 1_100));

    const reuse = await connectErrorOf(
      edge().auth.refresh({ refreshToken: tokens?.refreshToken ?? "" }),
    );
    expect(reuse).toMatchObject({ code: Code.Unauthenticated });
    // Content never asks identity: it hears identity.session.revoked.v1 and refuses the sid.
    await waitUntil(
      () => codeOf(contentDirect(live).createPost({ circleId, body: "after theft" })),
      (code) => code === "Unauthenticated",
      { timeoutMs: 10_000, what: "content to refuse the revoked session" },
    );
    // The gateway refuses it before forwarding (its own verifier, its own revocation list).
    await waitUntil(
      () => codeOf(edge(live).posts.createPost({ circleId, body: "after theft" })),
      (code) => code === "Unauthenticated",
      { timeoutMs: 10_000, what: "the gateway to refuse the revoked session" },
    );
    expect(
      await codeOf(edge().auth.refresh({ refreshToken: next.tokens?.refreshToken ?? "" })),
    ).toBe("Unauthenticated");
  });

  it("refuses every tampered token at the gateway and in content, and nothing is created", async () => {
    const { user, tokens } = await edge().auth.register(account());
    await joinCircle(user?.id);
    const good = tokens?.accessToken ?? "";
    const claims = decodeJwt(good);
    const key = await identity.keys.current();
    const kid = key.kid;
    const now = Math.floor(Date.now() / 1000);
    const sign = (payload: JWTPayload, header: Record<string, unknown> = {}) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: "EdDSA", kid, typ: "at+jwt", ...header })
        .sign(key.privateKey);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const [goodHeader, goodBody, goodSignature] = good.split(".");

    // The public key as an HMAC secret: the classic algorithm-confusion forgery.
    const jwk = identity.keys.jwks().keys.find((k) => k.kid === kid);
    const publicPem = await exportSPKI(
      (await importJWK(jwk ?? {}, "EdDSA", { extractable: true })) as Parameters<
        typeof exportSPKI
      >[0],
    );
    const foreign = await generateKeyPair("EdDSA", { crv: "Ed25519" });

    const forged: Record<string, string> = {
      expired: await sign({ ...claims, iat: now - 1_200, nbf: now - 1_200, exp: now - 600 }),
      "not yet valid (nbf in the future)": await sign({
        ...claims,
        nbf: now + 3_600,
        exp: now + 4_200,
      }),
      "wrong issuer": await sign({ ...claims, iss: "someone-else" }),
      "wrong audience": await sign({ ...claims, aud: "another-app" }),
      "payload changed after signing": `${goodHeader}.${b64({ ...claims, roles: ["member", "admin"] })}.${goodSignature}`,
      "signature of another key, same kid": await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "EdDSA", kid })
        .sign(foreign.privateKey),
      "unknown kid": await sign({ ...claims }, { kid: "k-made-up" }),
      "alg none": `${b64({ alg: "none", typ: "JWT", kid })}.${goodBody}.`,
      "HS256 with the public key as secret": await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "HS256", kid })
        .sign(new TextEncoder().encode(publicPem)),
      "no exp": await sign({ ...claims, exp: undefined }),
      garbage: "not.a.jwt",
    };
    for (const [what, token] of Object.entries(forged)) {
      const atGateway = await connectErrorOf(
        edge(token).posts.createPost({ circleId, body: what }),
      );
      expect(atGateway.code, `gateway: ${what}`).toBe(Code.Unauthenticated);
      expect(atGateway.rawMessage).toBe("the access token is invalid or expired");
      const atContent = await connectErrorOf(
        contentDirect(token).createPost({ circleId, body: what }),
      );
      expect(atContent.code, `content: ${what}`).toBe(Code.Unauthenticated);
      const atIdentity = await connectErrorOf(
        createClient(
          UserService,
          transportTo(identity.host.url, { authorization: `Bearer ${token}` }),
        ).getMe({}),
      );
      expect(atIdentity.code, `identity: ${what}`).toBe(Code.Unauthenticated);
    }
    // The untampered token still works, and no forged call created anything.
    const mine = await edge(good).posts.createPost({ circleId, body: "the real one" });
    expect(mine.post?.authorId).toBe(user?.id);
  });

  it("records the client's address as the gateway saw it, whatever X-Forwarded-For claims", async () => {
    const input = account();
    const { user } = await edge().auth.register(input);
    const spoofing = createClient(
      AuthService,
      transportTo(gateway.url, { "x-forwarded-for": "203.0.113.9" }),
    );
    await spoofing.login({ email: input.email, password: input.password });
    const entry = await identity.deps.db.kysely
      .selectFrom("audit_event")
      .select("ip_address")
      .where("user_id", "=", user?.id ?? "")
      .where("kind", "=", "login_succeeded")
      .executeTakeFirstOrThrow();
    expect(entry.ip_address).toMatch(/127\.0\.0\.1$/);
  });

  it("keeps admin methods for admins at the edge too", async () => {
    const { tokens } = await edge().auth.register(account());
    const member = edge(tokens?.accessToken);
    expect(await codeOf(member.users.listAuditEvents({}))).toBe("PermissionDenied");
    expect(await codeOf(edge().users.listAuditEvents({}))).toBe("Unauthenticated");
  });
});

function decodeProtectedKid(token: string): string | undefined {
  const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()) as {
    kid?: string;
  };
  return header.kid;
}
