import { blindIndex, SecretBox, subkey } from "./crypto.ts";

/**
 * E-mail addresses at rest: encrypted (AES-256-GCM, bound to the user id) and found through a
 * keyed blind index (HMAC-SHA-256), so a database dump reveals neither the addresses nor, by
 * hashing a guess, whether one is registered. Both keys derive from `IDENTITY_PII_KEY`.
 */
export class EmailVault {
  readonly #box: SecretBox;
  readonly #indexKey: Buffer;

  constructor(piiKey: Buffer) {
    this.#box = new SecretBox(subkey(piiKey, "email-encryption"));
    this.#indexKey = subkey(piiKey, "email-blind-index");
  }

  index(normalizedEmail: string): Buffer {
    return blindIndex(this.#indexKey, normalizedEmail);
  }

  seal(normalizedEmail: string, ownerId: string): string {
    return this.#box.seal(normalizedEmail, `email:${ownerId}`);
  }

  open(ciphertext: string, ownerId: string): string {
    return this.#box.openText(ciphertext, `email:${ownerId}`);
  }

  /** For other small secrets kept for a short while (PKCE verifiers), bound to `context`. */
  get box(): SecretBox {
    return this.#box;
  }
}

/**
 * One spelling per address: Unicode NFKC, trimmed, lower-cased. (Case in the local part is
 * allowed by RFC 5321 but no provider we know of honours it; provider-specific rewriting, like
 * dropping dots for Gmail, is not done: it would merge addresses that are really distinct.)
 */
export function normalizeEmail(email: string): string {
  return email.normalize("NFKC").trim().toLowerCase();
}
