import { createHash } from "node:crypto";
import { randomToken } from "../crypto.ts";

/** A PKCE pair (RFC 7636): the secret verifier we keep, and the challenge the provider sees. */
export interface Pkce {
  verifier: string;
  challenge: string;
}

/** The S256 challenge of a verifier: BASE64URL(SHA-256(ASCII(verifier))), unpadded. */
export function s256Challenge(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** A fresh pair: 32 random bytes give a 43-character verifier (the minimum RFC 7636 allows is 43). */
export function newPkce(): Pkce {
  const verifier = randomToken(32);
  return { verifier, challenge: s256Challenge(verifier) };
}
