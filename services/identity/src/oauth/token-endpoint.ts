import { codeRejected, providerUnavailable } from "./errors.ts";
import type { OAuthClient } from "./providers.ts";

/** How long a token request may take before the provider counts as down. */
const timeoutMs = 10_000;

export interface CodeExchange {
  code: string;
  redirectUri: string;
  codeVerifier: string;
}

/** The provider's `error` and a short `error_description`: safe to log, unlike the rest. */
function describeError(status: number, body: unknown): string {
  const { error, error_description: description } = (body ?? {}) as Record<string, unknown>;
  const parts = [`token endpoint answered ${status}`];
  if (typeof error === "string") parts.push(error.slice(0, 64));
  if (typeof description === "string") parts.push(description.slice(0, 200));
  return parts.join(": ");
}

async function jsonOf(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

/**
 * Redeems an authorization code at the provider's token endpoint (RFC 6749 §4.1.3 with the PKCE
 * verifier of RFC 7636 §4.5) and returns the ID token. A code the provider refuses
 * (`invalid_grant`: unknown, used, expired, or a verifier that does not match) is
 * `unauthenticated`; a provider that is down, slow, or refuses our client (a configuration
 * fault, logged as such) is `unavailable`.
 */
export async function redeemCode(
  fetchImpl: typeof fetch,
  client: OAuthClient,
  exchange: CodeExchange,
): Promise<string> {
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code: exchange.code,
    redirect_uri: exchange.redirectUri,
    client_id: client.clientId,
    code_verifier: exchange.codeVerifier,
  });
  const secret = await client.clientSecret();
  if (secret !== undefined) form.set("client_secret", secret);
  let res: Response;
  try {
    res = await fetchImpl(client.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw providerUnavailable(client.label, err);
  }
  const body = await jsonOf(res);
  if (!res.ok) {
    const cause = new Error(describeError(res.status, body));
    const error = (body as { error?: unknown } | undefined)?.error;
    if (res.status === 400 && (error === "invalid_grant" || error === "invalid_request")) {
      throw codeRejected(client.label, cause);
    }
    throw providerUnavailable(client.label, cause);
  }
  const idToken = (body as { id_token?: unknown } | undefined)?.id_token;
  if (typeof idToken !== "string" || idToken === "") {
    throw providerUnavailable(client.label, new Error("token response without an id_token"));
  }
  return idToken;
}
