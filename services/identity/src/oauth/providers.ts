import type { OAuthSettings } from "../config.ts";
import type { ProviderName } from "../users.ts";
import { AppleClientSecret, appleSigningKey } from "./apple-client-secret.ts";

/** How a provider is named in messages to clients. */
export const providerLabels: Record<ProviderName, string> = { google: "Google", apple: "Apple" };

/** One configured OpenID provider: everything a flow needs of it. */
export interface OAuthClient {
  readonly name: ProviderName;
  readonly label: string;
  readonly clientId: string;
  /** Accepted `iss` values of its ID tokens. */
  readonly issuers: readonly string[];
  readonly authorizationUrl: string;
  readonly tokenUrl: string;
  readonly jwksUrl: string;
  /** Parameters of the authorization request beyond the protocol's own. */
  readonly authorizationParams: Readonly<Record<string, string>>;
  /** The `client_secret` of a token request, if the client has one. */
  clientSecret(): Promise<string | undefined>;
}

const present = (value: string | undefined): value is string =>
  value !== undefined && value.trim() !== "";

function googleClient(settings: OAuthSettings["google"]): OAuthClient | undefined {
  const { clientId, clientSecret } = settings;
  if (!present(clientId)) return undefined;
  return {
    name: "google",
    label: providerLabels.google,
    clientId,
    // Google documents both spellings of its issuer for ID tokens.
    issuers:
      settings.issuer === "https://accounts.google.com"
        ? [settings.issuer, "accounts.google.com"]
        : [settings.issuer],
    authorizationUrl: settings.authorizationUrl,
    tokenUrl: settings.tokenUrl,
    jwksUrl: settings.jwksUrl,
    // `profile` puts the `name` claim in the ID token, for the new account's display name.
    authorizationParams: { scope: "openid email profile" },
    clientSecret: async () => (present(clientSecret) ? clientSecret : undefined),
  };
}

function appleClient(settings: OAuthSettings["apple"]): OAuthClient | undefined {
  const { clientId, teamId, keyId, privateKey } = settings;
  if (!present(clientId) || !present(teamId) || !present(keyId) || !present(privateKey)) {
    return undefined;
  }
  const secret = new AppleClientSecret(
    { teamId, clientId, keyId, audience: settings.issuer },
    appleSigningKey(privateKey),
  );
  return {
    name: "apple",
    label: providerLabels.apple,
    clientId,
    issuers: [settings.issuer],
    authorizationUrl: settings.authorizationUrl,
    tokenUrl: settings.tokenUrl,
    jwksUrl: settings.jwksUrl,
    // Apple puts `email` in the ID token only when the scope asks for it, and any scope
    // requires `response_mode=form_post`: Apple POSTs `code` and `state` to the redirect URI,
    // so Apple's allow-listed redirect URI is an https page of ours (Apple accepts no custom
    // schemes anyway) that hands them to the app, which calls CompleteOAuth or LinkOAuth.
    // `name` is not requested: Apple never puts it in the ID token but sends it once, unsigned,
    // in that POST's `user` field, which the API does not carry; the display name comes from
    // the e-mail instead and can be changed afterwards.
    authorizationParams: { scope: "openid email", response_mode: "form_post" },
    clientSecret: () => secret.get(),
  };
}

/**
 * The configured providers: Google needs a client id (its secret is optional, for clients
 * that have none); Apple needs the client id, team id, key id and private key. A malformed
 * Apple key throws here, so a bad deploy fails at start.
 */
export function oauthClients(settings: OAuthSettings): Partial<Record<ProviderName, OAuthClient>> {
  const google = googleClient(settings.google);
  const apple = appleClient(settings.apple);
  return {
    ...(google === undefined ? {} : { google }),
    ...(apple === undefined ? {} : { apple }),
  };
}

/** The provider URL that starts an authorization-code flow with PKCE (S256), state and nonce. */
export function authorizationUrlOf(
  client: Pick<OAuthClient, "authorizationUrl" | "clientId" | "authorizationParams">,
  request: { redirectUri: string; state: string; nonce: string; codeChallenge: string },
): string {
  const url = new URL(client.authorizationUrl);
  const params = {
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: request.redirectUri,
    ...client.authorizationParams,
    state: request.state,
    nonce: request.nonce,
    code_challenge: request.codeChallenge,
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}
