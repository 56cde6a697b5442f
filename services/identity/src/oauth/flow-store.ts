import type { Kysely } from "kysely";
import { randomToken, type SecretBox, tokenHash } from "../crypto.ts";
import type { IdentityDatabase } from "../db/schema.ts";
import type { ProviderName } from "../users.ts";
import { newPkce } from "./pkce.ts";

/** How long a started flow may be completed (the person is at the provider meanwhile). */
export const flowTtlSeconds = 600;

/** A started flow, as the completion needs it. */
export interface Flow {
  provider: ProviderName;
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
  /** The signed-in user who started it to link an identity; `null` for a sign-in. */
  userId: string | null;
}

/** The verifier is encrypted and bound to its flow: a ciphertext moved to another row won't open. */
const verifierContext = (stateHash: Buffer) => `oauth-verifier:${stateHash.toString("hex")}`;

/**
 * Remembers a new flow and returns what the authorization URL carries. Only the state's
 * SHA-256 is stored (the state is a 256-bit bearer value), the PKCE verifier is encrypted, and
 * the nonce is kept as is: it is not secret, the provider echoes it in the ID token.
 */
export async function saveFlow(
  db: Kysely<IdentityDatabase>,
  box: SecretBox,
  flow: Omit<Flow, "codeVerifier" | "nonce">,
  now = new Date(),
): Promise<{ state: string; nonce: string; codeChallenge: string }> {
  const state = randomToken(32);
  const nonce = randomToken(32);
  const pkce = newPkce();
  const stateHash = tokenHash(state);
  await db
    .insertInto("oauth_flow")
    .values({
      state_hash: stateHash,
      provider: flow.provider,
      code_verifier_ciphertext: box.seal(pkce.verifier, verifierContext(stateHash)),
      nonce,
      redirect_uri: flow.redirectUri,
      user_id: flow.userId,
      created_at: now,
      expires_at: new Date(now.getTime() + flowTtlSeconds * 1000),
    })
    .execute();
  return { state, nonce, codeChallenge: pkce.challenge };
}

/**
 * Takes a flow out, once: a single DELETE … RETURNING, so two completions of one state cannot
 * both succeed. Only a live flow of this provider and of this purpose matches (`userId` null
 * for a sign-in, the caller for a link); anything else is left as it was and `undefined` returned.
 */
export async function takeFlow(
  db: Kysely<IdentityDatabase>,
  box: SecretBox,
  state: string,
  expect: { provider: ProviderName; userId: string | null },
  now = new Date(),
): Promise<Flow | undefined> {
  const stateHash = tokenHash(state);
  const userId = expect.userId;
  const row = await db
    .deleteFrom("oauth_flow")
    .where("state_hash", "=", stateHash)
    .where("provider", "=", expect.provider)
    .where("expires_at", ">", now)
    .where((eb) => (userId === null ? eb("user_id", "is", null) : eb("user_id", "=", userId)))
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    provider: expect.provider,
    codeVerifier: box.openText(row.code_verifier_ciphertext, verifierContext(stateHash)),
    nonce: row.nonce,
    redirectUri: row.redirect_uri,
    userId: row.user_id,
  };
}
