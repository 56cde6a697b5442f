import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Principal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import {
  type CompleteOAuthRequest,
  type CompleteOAuthResponse,
  type LinkOAuthRequest,
  type LinkOAuthResponse,
  OAuthLinkSchema,
  type StartOAuthRequest,
  type StartOAuthResponse,
  type UnlinkOAuthRequest,
  type UnlinkOAuthResponse,
} from "@kindred/proto/identity/v1";
import type { Transaction } from "kysely";
import { createUser, isUniqueViolation, linkedProviders, liveUser } from "../accounts.ts";
import { audit } from "../audit.ts";
import type { OAuthSettings } from "../config.ts";
import type { IdentityDatabase } from "../db/schema.ts";
import type { IdentityDeps } from "../deps.ts";
import type { RequestMeta } from "../request-meta.ts";
import {
  type ProviderName,
  providerFromProto,
  providerNames,
  restrictionOf,
  toUser,
  type UserRow,
} from "../users.ts";
import { invalidState, providerDisabled } from "./errors.ts";
import { type Flow, saveFlow, takeFlow } from "./flow-store.ts";
import { IdTokenVerifier, type ProviderIdentity } from "./id-token.ts";
import { authorizationUrlOf, type OAuthClient, oauthClients, providerLabels } from "./providers.ts";
import { redeemCode } from "./token-endpoint.ts";

type Trx = Transaction<IdentityDatabase>;

/** A sign-in either opens a session, or is refused for an account that may not sign in now. */
type SignInOutcome =
  | { user: UserRow; tokens: CompleteOAuthResponse["tokens"]; linked: string[] }
  | { refused: DomainError; userId: string };

const maxDisplayName = 64;

/** A display name for a new account: the provider's `name`, else the e-mail's local part. */
export function displayNameFor(person: ProviderIdentity, label: string): string {
  const candidates = [person.name, person.email?.split("@")[0]?.trim(), `${label} user`];
  const name = candidates.find((c): c is string => c !== undefined && c !== "") ?? "member";
  // By code point, so a character outside the BMP is never cut in half.
  return Array.from(name).slice(0, maxDisplayName).join("").trim();
}

/** An identity's e-mail at rest: encrypted like the account's, bound to the user it belongs to. */
const sealIdentityEmail = (deps: IdentityDeps, person: ProviderIdentity, userId: string) =>
  person.emailVerified && person.email !== undefined ? deps.vault.seal(person.email, userId) : null;

const emailOfOtherAccount = (label: string) =>
  new DomainError(
    "already_exists",
    `an account with this e-mail address already exists; sign in to your existing account and link ${label} from there`,
    { reason: "EMAIL_TAKEN" },
  );

const identityTaken = (label: string) =>
  new DomainError("already_exists", `this ${label} account is already linked to another account`, {
    reason: "OAUTH_IDENTITY_TAKEN",
  });

const providerAlreadyLinked = (label: string) =>
  new DomainError(
    "already_exists",
    `a ${label} account is already linked to this account; unlink it first`,
    { reason: "OAUTH_PROVIDER_LINKED" },
  );

/** Which unique constraint a violation hit (Postgres reports its name). */
const violatedConstraint = (err: unknown) =>
  String((err as { constraint?: unknown } | null)?.constraint ?? "");

/**
 * OAuth 2.0 authorization code + PKCE (S256) with OpenID Connect, for Google and Apple.
 *
 * `start` remembers a flow (state, PKCE verifier, nonce, redirect URI) and returns the
 * provider's URL; the app opens it, the person signs in there, and the provider sends a `code`
 * and the `state` to the redirect URI. `complete` (sign in) or `link` (signed-in user) takes the
 * flow out by its state, once, redeems the code with the verifier, verifies the ID token, and
 * acts on the identity it names. A flow started by a signed-in caller is a link flow: only
 * `link` by that same user can finish it.
 */
export class OAuthFlows {
  readonly #deps: IdentityDeps;
  readonly #redirectUris: ReadonlySet<string>;
  readonly #fetch: typeof fetch;
  readonly #clients: Partial<Record<ProviderName, { client: OAuthClient; ids: IdTokenVerifier }>>;

  constructor(deps: IdentityDeps, settings: OAuthSettings, fetchImpl: typeof fetch) {
    this.#deps = deps;
    this.#redirectUris = new Set(settings.redirectUris);
    this.#fetch = fetchImpl;
    this.#clients = Object.fromEntries(
      Object.values(oauthClients(settings)).map((client) => [
        client.name,
        { client, ids: new IdTokenVerifier(client, fetchImpl) },
      ]),
    );
  }

  async start(
    req: StartOAuthRequest,
    principal: Principal | undefined,
    _meta: RequestMeta,
  ): Promise<Partial<StartOAuthResponse>> {
    const { client } = this.#configured(providerFromProto(req.provider));
    // Exact match only: a prefix or pattern match is how open redirects and code theft happen.
    if (!this.#redirectUris.has(req.redirectUri)) {
      throw new DomainError("invalid_argument", "redirect_uri is not an allowed redirect URI", {
        reason: "OAUTH_REDIRECT_URI_NOT_ALLOWED",
      });
    }
    const { db, vault } = this.#deps;
    if (principal !== undefined) {
      // Refused now rather than after the round trip to the provider.
      await liveUser(db.kysely, principal.userId);
      if ((await linkedProviders(db.kysely, principal.userId)).includes(client.name)) {
        throw providerAlreadyLinked(client.label);
      }
    }
    const { state, nonce, codeChallenge } = await saveFlow(db.kysely, vault.box, {
      provider: client.name,
      redirectUri: req.redirectUri,
      userId: principal?.userId ?? null,
    });
    return {
      authorizationUrl: authorizationUrlOf(client, {
        redirectUri: req.redirectUri,
        state,
        nonce,
        codeChallenge,
      }),
      state,
    };
  }

  async complete(
    req: CompleteOAuthRequest,
    meta: RequestMeta,
  ): Promise<Partial<CompleteOAuthResponse>> {
    const provider = this.#configured(providerFromProto(req.provider));
    const flow = await this.#take(provider.client, req.state, null);
    const person = await this.#identify(provider, flow, req.code);
    const { client } = provider;
    const { db, vault } = this.#deps;
    let outcome: SignInOutcome;
    try {
      outcome = await db.transaction((trx) => this.#signIn(trx, client, person, meta));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // A concurrent registration took the e-mail, or a concurrent first sign-in the identity.
      if (violatedConstraint(err).includes("email_index")) throw emailOfOtherAccount(client.label);
      throw new DomainError(
        "aborted",
        `another sign-in with ${client.label} got there first; try again`,
        {
          cause: err,
        },
      );
    }
    if ("refused" in outcome) {
      await audit(
        db.kysely,
        {
          kind: "login_failed",
          userId: outcome.userId,
          details: { via: client.name, reason: outcome.refused.reason ?? "" },
        },
        meta,
      );
      throw outcome.refused;
    }
    return { user: toUser(outcome.user, vault, outcome.linked), tokens: outcome.tokens };
  }

  async link(
    req: LinkOAuthRequest,
    principal: Principal,
    meta: RequestMeta,
  ): Promise<Partial<LinkOAuthResponse>> {
    const provider = this.#configured(providerFromProto(req.provider));
    const { name, label } = provider.client;
    const flow = await this.#take(provider.client, req.state, principal.userId);
    const person = await this.#identify(provider, flow, req.code);
    const { db } = this.#deps;
    try {
      const linkedAt = await db.transaction(async (trx) => {
        // The user's row lock serializes their link and unlink calls.
        const user = await liveUser(trx, principal.userId, { lock: true });
        const restriction = restrictionOf(user);
        if (restriction !== undefined) throw restriction;
        const clashes = await trx
          .selectFrom("oauth_identity")
          .select(["subject", "user_id"])
          .where("provider", "=", name)
          .where((eb) => eb.or([eb("subject", "=", person.subject), eb("user_id", "=", user.id)]))
          .execute();
        if (clashes.some((c) => c.subject === person.subject && c.user_id !== user.id)) {
          throw identityTaken(label);
        }
        if (clashes.length > 0) throw providerAlreadyLinked(label);
        const row = await trx
          .insertInto("oauth_identity")
          .values({
            provider: name,
            subject: person.subject,
            user_id: user.id,
            email_ciphertext: sealIdentityEmail(this.#deps, person, user.id),
          })
          .returning("linked_at")
          .executeTakeFirstOrThrow();
        await audit(
          trx,
          { kind: "oauth_linked", userId: user.id, details: { provider: name } },
          meta,
        );
        return row.linked_at;
      });
      return {
        link: create(OAuthLinkSchema, {
          provider: providerNames[name],
          email: person.emailVerified ? (person.email ?? "") : "",
          linkedAt: timestampFromDate(linkedAt),
        }),
      };
    } catch (err) {
      // Two links of one identity at once: the primary key decides, the loser is told so.
      if (isUniqueViolation(err)) throw identityTaken(label);
      throw err;
    }
  }

  async unlink(
    req: UnlinkOAuthRequest,
    principal: Principal,
    meta: RequestMeta,
  ): Promise<Partial<UnlinkOAuthResponse>> {
    // Not `#configured`: an identity stays removable after its provider is switched off.
    const provider = providerFromProto(req.provider);
    const label = providerLabels[provider];
    await this.#deps.db.transaction(async (trx) => {
      const user = await liveUser(trx, principal.userId, { lock: true });
      const linked = await linkedProviders(trx, user.id);
      if (!linked.includes(provider)) {
        throw new DomainError("not_found", `no ${label} account is linked to this account`);
      }
      if (user.password_hash === null && linked.length === 1) {
        throw new DomainError(
          "failed_precondition",
          `${label} is the only way to sign in to this account; link another provider before unlinking it`,
          { reason: "OAUTH_LAST_SIGN_IN_METHOD" },
        );
      }
      await trx
        .deleteFrom("oauth_identity")
        .where("user_id", "=", user.id)
        .where("provider", "=", provider)
        .execute();
      await audit(trx, { kind: "oauth_unlinked", userId: user.id, details: { provider } }, meta);
    });
    return {};
  }

  #configured(provider: ProviderName) {
    const configured = this.#clients[provider];
    if (configured === undefined) throw providerDisabled(providerLabels[provider]);
    return configured;
  }

  async #take(client: OAuthClient, state: string, userId: string | null): Promise<Flow> {
    const flow = await takeFlow(this.#deps.db.kysely, this.#deps.vault.box, state, {
      provider: client.name,
      userId,
    });
    if (flow === undefined) {
      throw invalidState(
        `no live ${client.name} ${userId === null ? "sign-in" : "link"} flow has this state`,
      );
    }
    return flow;
  }

  /** Redeems the code with the flow's verifier and verifies the ID token against its nonce. */
  async #identify(
    provider: { client: OAuthClient; ids: IdTokenVerifier },
    flow: Flow,
    code: string,
  ): Promise<ProviderIdentity> {
    const idToken = await redeemCode(this.#fetch, provider.client, {
      code,
      redirectUri: flow.redirectUri,
      codeVerifier: flow.codeVerifier,
    });
    return provider.ids.verify(idToken, flow.nonce);
  }

  async #userOfIdentity(trx: Trx, provider: ProviderName, subject: string) {
    return trx
      .selectFrom("oauth_identity")
      .innerJoin("app_user", "app_user.id", "oauth_identity.user_id")
      .selectAll("app_user")
      .where("oauth_identity.provider", "=", provider)
      .where("oauth_identity.subject", "=", subject)
      .executeTakeFirst();
  }

  /** Signs the identity's account in, creating it first if the identity is new. */
  async #signIn(
    trx: Trx,
    client: OAuthClient,
    person: ProviderIdentity,
    meta: RequestMeta,
  ): Promise<SignInOutcome> {
    const existing = await this.#userOfIdentity(trx, client.name, person.subject);
    if (existing !== undefined) {
      const refused =
        existing.deleted_at !== null
          ? new DomainError("permission_denied", "this account was deleted", {
              reason: "ACCOUNT_DELETED",
            })
          : restrictionOf(existing);
      if (refused !== undefined) return { refused, userId: existing.id };
    }
    const user = existing ?? (await this.#register(trx, client, person, meta));
    const { tokens, sessionId } = await this.#deps.sessions.open(trx, user, meta);
    await audit(
      trx,
      { kind: "login_succeeded", userId: user.id, details: { via: client.name, sessionId } },
      meta,
    );
    return { user, tokens, linked: await linkedProviders(trx, user.id) };
  }

  /**
   * A new account for an identity seen for the first time. The provider's e-mail is kept only
   * when it vouches for it (`email_verified`). A verified e-mail that already belongs to an
   * account is refused, not merged: merging would let whoever first registered that address
   * with a password (before its owner ever signed up, "pre-account takeover") keep access to
   * the owner's account, and would trust each provider's verification as much as our own
   * sign-in. The owner signs in to the existing account and links the provider from there.
   */
  async #register(
    trx: Trx,
    client: OAuthClient,
    person: ProviderIdentity,
    meta: RequestMeta,
  ): Promise<UserRow> {
    const email = person.emailVerified ? person.email : undefined;
    if (email !== undefined) {
      const owner = await trx
        .selectFrom("app_user")
        .select("id")
        .where("email_index", "=", this.#deps.vault.index(email))
        .executeTakeFirst();
      if (owner !== undefined) throw emailOfOtherAccount(client.label);
    }
    const user = await createUser(
      this.#deps,
      trx,
      {
        email,
        passwordHash: null,
        displayName: displayNameFor(person, client.label),
        via: client.name,
      },
      meta,
    );
    await trx
      .insertInto("oauth_identity")
      .values({
        provider: client.name,
        subject: person.subject,
        user_id: user.id,
        email_ciphertext: sealIdentityEmail(this.#deps, person, user.id),
      })
      .execute();
    return user;
  }
}
