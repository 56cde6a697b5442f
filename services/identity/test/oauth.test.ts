import { Code } from "@connectrpc/connect";
import { DomainError } from "@kindred/errors";
import { AuthProvider } from "@kindred/proto/identity/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { exportPKCS8, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tokenHash } from "../src/crypto.ts";
import { OAuthFlows } from "../src/oauth/flows.ts";
import { systemRequest } from "../src/request-meta.ts";
import { type FakeLogin, FakeOidcProvider } from "./fixtures/fake-oidc.ts";
import { bearer, type IdentityUnderTest, newAccount, startIdentity } from "./helpers.ts";

const { GOOGLE, APPLE } = AuthProvider;
const redirectUri = "https://kindred.example/oauth/callback";
const appRedirectUri = "app.kindred:/oauth";
const stateMessage = "the OAuth state is invalid or expired; start again";

let identity: IdentityUnderTest;
let google: FakeOidcProvider;
let apple: FakeOidcProvider;

beforeAll(async () => {
  const appleKey = await generateKeyPair("ES256", { extractable: true });
  google = await FakeOidcProvider.start({
    clientId: "google-client",
    auth: { style: "secret", clientSecret: "google-secret" },
    alg: "RS256",
  });
  apple = await FakeOidcProvider.start({
    clientId: "app.kindred.signin",
    auth: {
      style: "apple-jwt",
      teamId: "TEAM123456",
      keyId: "APPLEKEY01",
      publicKey: appleKey.publicKey,
    },
    alg: "ES256",
  });
  const g = google.endpoints;
  const a = apple.endpoints;
  identity = await startIdentity({
    OAUTH_REDIRECT_URIS: `${redirectUri}, ${appRedirectUri}`,
    OAUTH_GOOGLE_CLIENT_ID: "google-client",
    OAUTH_GOOGLE_CLIENT_SECRET: "google-secret",
    OAUTH_GOOGLE_ISSUER: g.issuer,
    OAUTH_GOOGLE_AUTHORIZATION_URL: g.authorizationUrl,
    OAUTH_GOOGLE_TOKEN_URL: g.tokenUrl,
    OAUTH_GOOGLE_JWKS_URL: g.jwksUrl,
    OAUTH_APPLE_CLIENT_ID: "app.kindred.signin",
    OAUTH_APPLE_TEAM_ID: "TEAM123456",
    OAUTH_APPLE_KEY_ID: "APPLEKEY01",
    OAUTH_APPLE_PRIVATE_KEY: await exportPKCS8(appleKey.privateKey),
    OAUTH_APPLE_ISSUER: a.issuer,
    OAUTH_APPLE_AUTHORIZATION_URL: a.authorizationUrl,
    OAUTH_APPLE_TOKEN_URL: a.tokenUrl,
    OAUTH_APPLE_JWKS_URL: a.jwksUrl,
  });
});

afterAll(async () => {
  await identity?.[Symbol.asyncDispose]();
  await google?.close();
  await apple?.close();
});

let subjects = 0;
/** A person the provider has never seen before. */
function newPerson(overrides: Partial<FakeLogin> = {}): FakeLogin {
  subjects += 1;
  const id = `${Date.now()}${subjects}`;
  return {
    sub: `sub-${id}`,
    email: `person.${id}@example.org`,
    emailVerified: true,
    name: `Person ${subjects}`,
    ...overrides,
  };
}

const fakeOf = (provider: AuthProvider) => (provider === APPLE ? apple : google);

/** StartOAuth, then the person signs in at the fake provider, which answers with a code. */
async function authorize(
  provider: AuthProvider,
  person: FakeLogin,
  headers: Record<string, string> = {},
): Promise<{ code: string; state: string; authorizationUrl: string }> {
  const { authorizationUrl, state } = await identity
    .as(headers)
    .auth.startOAuth({ provider, redirectUri });
  const fake = fakeOf(provider);
  fake.nextLogin = person;
  const answer = await fake.authorize(authorizationUrl);
  expect(answer.state).toBe(state);
  return { ...answer, authorizationUrl };
}

async function signIn(provider: AuthProvider, person: FakeLogin) {
  const { code, state } = await authorize(provider, person);
  return identity.auth.completeOAuth({ provider, code, state });
}

const kysely = () => identity.app.deps.db.kysely;

async function countRows(table: "app_user" | "oauth_identity" | "oauth_flow"): Promise<number> {
  const row = await kysely()
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function audits(userId: string) {
  return kysely()
    .selectFrom("audit_event")
    .select(["kind", "details"])
    .where("user_id", "=", userId)
    .orderBy("occurred_at")
    .orderBy("id")
    .execute();
}

async function identityOf(provider: string, subject: string) {
  return kysely()
    .selectFrom("oauth_identity")
    .selectAll()
    .where("provider", "=", provider)
    .where("subject", "=", subject)
    .executeTakeFirst();
}

describe("sign-in with Google", () => {
  it("creates an account on first sign-in and signs the same person in to it again", async () => {
    const person = newPerson({ name: "  Grace Hopper  " });
    const { code, state, authorizationUrl } = await authorize(GOOGLE, person);

    const url = new URL(authorizationUrl);
    expect(url.origin + url.pathname).toBe(google.endpoints.authorizationUrl);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: "code",
      client_id: "google-client",
      redirect_uri: redirectUri,
      scope: "openid email profile",
      state,
      code_challenge_method: "S256",
    });
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    // At rest: the state only as a hash, the verifier only encrypted.
    const flow = await kysely()
      .selectFrom("oauth_flow")
      .selectAll()
      .where("state_hash", "=", tokenHash(state))
      .executeTakeFirstOrThrow();
    expect(flow).toMatchObject({
      provider: "google",
      redirect_uri: redirectUri,
      user_id: null,
      nonce: url.searchParams.get("nonce"),
    });
    expect(flow.code_verifier_ciphertext).toMatch(/^v1\./);
    expect(flow.expires_at.getTime() - flow.created_at.getTime()).toBe(600_000);

    const first = await identity.auth.completeOAuth({ provider: GOOGLE, code, state });
    expect(first.user).toMatchObject({
      email: person.email,
      displayName: "Grace Hopper",
      linkedProviders: [GOOGLE],
    });
    const userId = first.user?.id ?? "";
    const used = await kysely()
      .selectFrom("oauth_flow")
      .select("provider")
      .where("state_hash", "=", tokenHash(state))
      .executeTakeFirst();
    expect(used).toBeUndefined(); // a flow works once
    const me = await identity.as(bearer(first.tokens?.accessToken)).users.getMe({});
    expect(me.user?.id).toBe(userId);
    expect(await identityOf("google", person.sub)).toMatchObject({ user_id: userId });

    const usersBefore = await countRows("app_user");
    const again = await signIn(GOOGLE, person);
    expect(again.user?.id).toBe(userId);
    expect(again.tokens?.refreshToken).not.toBe(first.tokens?.refreshToken);
    expect(await countRows("app_user")).toBe(usersBefore);

    const trail = await audits(userId);
    expect(trail.map((a) => a.kind)).toEqual(["registered", "login_succeeded", "login_succeeded"]);
    expect(trail[0]?.details).toEqual({ via: "google" });
    expect(trail[1]?.details).toMatchObject({ via: "google" });
    // The audit log keeps no secrets of the flow.
    expect(JSON.stringify(trail)).not.toContain(code);
  });

  it("keeps an e-mail the provider does not vouch for out of the account", async () => {
    const person = newPerson({ emailVerified: false, name: undefined });
    const { user } = await signIn(GOOGLE, person);
    expect(user).toMatchObject({ email: "", displayName: person.email?.split("@")[0] });
  });
});

describe("sign-in with Apple", () => {
  it("redeems the code with an ES256 client-secret JWT and uses the form_post response mode", async () => {
    const person = newPerson({ name: undefined, emailVerified: "true" });
    const redeemedBefore = apple.redeemed;
    const { code, state, authorizationUrl } = await authorize(APPLE, person);
    const params = new URL(authorizationUrl).searchParams;
    expect(params.get("response_mode")).toBe("form_post");
    expect(params.get("scope")).toBe("openid email");
    expect(params.get("client_id")).toBe("app.kindred.signin");

    const { user } = await identity.auth.completeOAuth({ provider: APPLE, code, state });
    expect(apple.refusals).toEqual([]); // the fake checked the client secret JWT and accepted it
    expect(apple.redeemed).toBe(redeemedBefore + 1);
    expect(user).toMatchObject({
      email: person.email,
      displayName: person.email?.split("@")[0],
      linkedProviders: [APPLE],
    });
    expect((await audits(user?.id ?? "")).map((a) => a.details)).toContainEqual({ via: "apple" });
  });
});

describe("refused flows change nothing", () => {
  it("refuses a code redeemed with another flow's PKCE verifier (code injection), at the provider", async () => {
    const victim = newPerson();
    const attacker = await identity.auth.startOAuth({ provider: GOOGLE, redirectUri });
    const stolen = await authorize(GOOGLE, victim);
    const usersBefore = await countRows("app_user");

    const err = await connectErrorOf(
      identity.auth.completeOAuth({ provider: GOOGLE, code: stolen.code, state: attacker.state }),
    );
    expect(err).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: "Google did not accept the sign-in; start again",
    });
    expect(google.refusals.at(-1)).toBe("code_verifier does not match the code_challenge");
    expect(err.rawMessage).not.toContain("code_verifier");
    expect(await countRows("app_user")).toBe(usersBefore);
    expect(await identityOf("google", victim.sub)).toBeUndefined();
  });

  it("refuses an unknown, reused, expired, or other provider's state with invalid_argument", async () => {
    const person = newPerson();
    const unknown = await connectErrorOf(
      identity.auth.completeOAuth({ provider: GOOGLE, code: "c", state: "no-such-state" }),
    );
    expect(unknown).toMatchObject({ code: Code.InvalidArgument, rawMessage: stateMessage });

    // Another provider's flow is refused and left as it was: it still completes afterwards.
    const { code, state } = await authorize(GOOGLE, person);
    const crossed = await connectErrorOf(
      identity.auth.completeOAuth({ provider: APPLE, code, state }),
    );
    expect(crossed).toMatchObject({ code: Code.InvalidArgument, rawMessage: stateMessage });
    const { user } = await identity.auth.completeOAuth({ provider: GOOGLE, code, state });

    const usersBefore = await countRows("app_user");
    const reused = await connectErrorOf(
      identity.auth.completeOAuth({ provider: GOOGLE, code, state }),
    );
    expect(reused).toMatchObject({ code: Code.InvalidArgument, rawMessage: stateMessage });

    const late = await authorize(GOOGLE, person);
    await kysely()
      .updateTable("oauth_flow")
      .set({ expires_at: new Date(Date.now() - 1_000) })
      .where("state_hash", "=", tokenHash(late.state))
      .execute();
    const expired = await connectErrorOf(
      identity.auth.completeOAuth({ provider: GOOGLE, code: late.code, state: late.state }),
    );
    expect(expired).toMatchObject({ code: Code.InvalidArgument, rawMessage: stateMessage });
    expect(await countRows("app_user")).toBe(usersBefore);
    expect((await audits(user?.id ?? "")).filter((a) => a.kind === "login_succeeded")).toHaveLength(
      1,
    );
  });

  it("accepts only allow-listed redirect URIs, exactly", async () => {
    const flowsBefore = await countRows("oauth_flow");
    for (const uri of [
      "https://evil.example/oauth/callback",
      `${redirectUri}/`,
      `${redirectUri}?next=https://evil.example`,
      "https://kindred.example/oauth/callback#x",
      `https://kindred.example/${"a".repeat(1_500)}`,
    ]) {
      const err = await connectErrorOf(
        identity.auth.startOAuth({ provider: GOOGLE, redirectUri: uri }),
      );
      expect(err).toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: "redirect_uri is not an allowed redirect URI",
      });
    }
    expect(await countRows("oauth_flow")).toBe(flowsBefore);
    const native = await identity.auth.startOAuth({
      provider: GOOGLE,
      redirectUri: appRedirectUri,
    });
    expect(new URL(native.authorizationUrl).searchParams.get("redirect_uri")).toBe(appRedirectUri);
  });

  it("refuses an unknown provider value in every method", async () => {
    const unknown = 99 as AuthProvider;
    const calls = [
      identity.auth.startOAuth({ provider: unknown, redirectUri }),
      identity.auth.completeOAuth({ provider: unknown, code: "c", state: "s" }),
      identity.auth.startOAuth({ provider: AuthProvider.UNSPECIFIED, redirectUri }),
    ];
    for (const call of calls) {
      const err = await connectErrorOf(call);
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain("provider");
    }
  });

  it("answers failed_precondition for a provider that is not configured", async () => {
    const { deps } = identity.app;
    const flows = new OAuthFlows(
      deps,
      {
        redirectUris: [redirectUri],
        google: { ...google.endpoints, clientId: undefined, clientSecret: undefined },
        apple: {
          ...apple.endpoints,
          clientId: "app.kindred.signin",
          teamId: undefined,
          keyId: undefined,
          privateKey: undefined,
        },
      },
      fetch,
    );
    for (const [provider, label] of [
      [GOOGLE, "Google"],
      [APPLE, "Apple"],
    ] as const) {
      const err = await flows
        .start(
          { $typeName: "kindred.identity.v1.StartOAuthRequest", provider, redirectUri },
          undefined,
          systemRequest,
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({
        code: "failed_precondition",
        message: `sign-in with ${label} is not enabled`,
      });
    }
  });

  it.each([
    ["a wrong nonce", { nonce: "someone-elses-nonce" }],
    ["another audience", { audience: "another-client" }],
    ["another issuer", { issuer: "https://evil.example" }],
    ["an expired token", { expired: true }],
    ["a key not in the provider's JWKS", { foreignKey: true }],
  ])("refuses an ID token with %s, creating nothing", async (_what, tamper) => {
    const person = newPerson();
    const { code, state } = await authorize(GOOGLE, person);
    const usersBefore = await countRows("app_user");
    google.tamper = tamper;
    const err = await connectErrorOf(
      identity.auth.completeOAuth({ provider: GOOGLE, code, state }),
    );
    expect(err).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: "the sign-in with Google could not be verified; start again",
    });
    expect(await countRows("app_user")).toBe(usersBefore);
    expect(await identityOf("google", person.sub)).toBeUndefined();
  });

  it("answers unavailable when the provider is down, without its words", async () => {
    const { code, state } = await authorize(GOOGLE, newPerson());
    google.outage = 503;
    try {
      const err = await connectErrorOf(
        identity.auth.completeOAuth({ provider: GOOGLE, code, state }),
      );
      expect(err).toMatchObject({
        code: Code.Unavailable,
        rawMessage: "Google cannot be reached right now; try again later",
      });
    } finally {
      google.outage = undefined;
    }
  });

  it("does not merge into an existing account that owns the verified e-mail (pre-account takeover)", async () => {
    const account = newAccount("Owner");
    const { user: owner } = await identity.auth.register(account);
    const person = newPerson({ email: account.email.toUpperCase() });
    const usersBefore = await countRows("app_user");

    const err = await connectErrorOf(signIn(GOOGLE, person));
    expect(err).toMatchObject({
      code: Code.AlreadyExists,
      rawMessage:
        "an account with this e-mail address already exists; sign in to your existing account and link Google from there",
    });
    expect(await countRows("app_user")).toBe(usersBefore);
    expect(await identityOf("google", person.sub)).toBeUndefined();
    expect((await audits(owner?.id ?? "")).map((a) => a.kind)).toEqual(["registered"]);
  });

  it("refuses a banned account, with a login_failed audit entry", async () => {
    const person = newPerson();
    const { user } = await signIn(GOOGLE, person);
    await kysely()
      .updateTable("app_user")
      .set({ banned_at: new Date() })
      .where("id", "=", user?.id ?? "")
      .execute();
    const err = await connectErrorOf(signIn(GOOGLE, person));
    expect(err).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "this account is banned",
    });
    expect((await audits(user?.id ?? "")).at(-1)).toEqual({
      kind: "login_failed",
      details: { via: "google", reason: "ACCOUNT_BANNED" },
    });
  });
});

describe("linking and unlinking", () => {
  it("links Google to a signed-in password account, signs in with it, and unlinks it", async () => {
    const { user, tokens } = await identity.auth.register(newAccount("Linker"));
    const userId = user?.id ?? "";
    const as = identity.as(bearer(tokens?.accessToken));
    const person = newPerson({ email: "linker.google@example.org" });

    const flow = await authorize(GOOGLE, person, bearer(tokens?.accessToken));
    expect(
      await kysely()
        .selectFrom("oauth_flow")
        .select("user_id")
        .where("state_hash", "=", tokenHash(flow.state))
        .executeTakeFirst(),
    ).toEqual({ user_id: userId });
    // A link flow is not a sign-in flow, and needs its own user.
    const asSignIn = await connectErrorOf(
      identity.auth.completeOAuth({ provider: GOOGLE, code: flow.code, state: flow.state }),
    );
    expect(asSignIn).toMatchObject({ code: Code.InvalidArgument, rawMessage: stateMessage });
    const { tokens: otherTokens } = await identity.auth.register(newAccount("Other"));
    const asOther = await connectErrorOf(
      identity
        .as(bearer(otherTokens?.accessToken))
        .auth.linkOAuth({ provider: GOOGLE, code: flow.code, state: flow.state }),
    );
    expect(asOther).toMatchObject({ code: Code.InvalidArgument, rawMessage: stateMessage });
    const anonymous = await connectErrorOf(
      identity.auth.linkOAuth({ provider: GOOGLE, code: flow.code, state: flow.state }),
    );
    expect(anonymous.code).toBe(Code.Unauthenticated);

    const { link } = await as.auth.linkOAuth({
      provider: GOOGLE,
      code: flow.code,
      state: flow.state,
    });
    expect(link).toMatchObject({ provider: GOOGLE, email: "linker.google@example.org" });
    expect(link?.linkedAt).toBeDefined();
    expect((await as.users.getMe({})).user?.linkedProviders).toEqual([GOOGLE]);

    // Google now signs in to this account.
    expect((await signIn(GOOGLE, person)).user?.id).toBe(userId);

    // A second Google account cannot be linked while one is.
    const twice = await connectErrorOf(as.auth.startOAuth({ provider: GOOGLE, redirectUri }));
    expect(twice).toMatchObject({ code: Code.AlreadyExists });

    await as.auth.unlinkOAuth({ provider: GOOGLE });
    expect((await as.users.getMe({})).user?.linkedProviders).toEqual([]);
    expect(await identityOf("google", person.sub)).toBeUndefined();
    const gone = await connectErrorOf(as.auth.unlinkOAuth({ provider: GOOGLE }));
    expect(gone).toMatchObject({ code: Code.NotFound });

    const trail = await audits(userId);
    expect(trail.filter((a) => a.kind.startsWith("oauth_"))).toEqual([
      { kind: "oauth_linked", details: { provider: "google" } },
      { kind: "oauth_unlinked", details: { provider: "google" } },
    ]);
  });

  it("refuses to link an identity that belongs to another account", async () => {
    const person = newPerson();
    const { user: holder } = await signIn(GOOGLE, person);
    const { tokens } = await identity.auth.register(newAccount("Claimer"));
    const flow = await authorize(GOOGLE, person, bearer(tokens?.accessToken));
    const err = await connectErrorOf(
      identity
        .as(bearer(tokens?.accessToken))
        .auth.linkOAuth({ provider: GOOGLE, code: flow.code, state: flow.state }),
    );
    expect(err).toMatchObject({
      code: Code.AlreadyExists,
      rawMessage: "this Google account is already linked to another account",
    });
    expect(await identityOf("google", person.sub)).toMatchObject({ user_id: holder?.id });
  });

  it("never unlinks an account's only way to sign in", async () => {
    const { user, tokens } = await signIn(GOOGLE, newPerson());
    const as = identity.as(bearer(tokens?.accessToken));
    const only = await connectErrorOf(as.auth.unlinkOAuth({ provider: GOOGLE }));
    expect(only).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage:
        "Google is the only way to sign in to this account; link another provider before unlinking it",
    });

    // With Apple linked too, Google can go; then Apple is the only one left.
    const appleFlow = await authorize(APPLE, newPerson(), bearer(tokens?.accessToken));
    await as.auth.linkOAuth({ provider: APPLE, code: appleFlow.code, state: appleFlow.state });
    await as.auth.unlinkOAuth({ provider: GOOGLE });
    const last = await connectErrorOf(as.auth.unlinkOAuth({ provider: APPLE }));
    expect(last.code).toBe(Code.FailedPrecondition);
    expect((await as.users.getMe({})).user?.linkedProviders).toEqual([APPLE]);
    expect((await audits(user?.id ?? "")).map((a) => a.kind)).toEqual([
      "registered",
      "login_succeeded",
      "oauth_linked",
      "oauth_unlinked",
    ]);
  });
});
