import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
} from "node:crypto";

const version = "v1";

/**
 * Authenticated encryption at rest (AES-256-GCM, a fresh 96-bit IV per value). `context` is
 * bound as associated data, so a ciphertext copied into another row or column does not open.
 * Output: `v1.<iv>.<ciphertext+tag>`, base64url; the version leaves room for key rotation.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new TypeError("SecretBox needs a 256-bit key");
    this.#key = key;
  }

  seal(plaintext: string | Buffer, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${version}.${iv.toString("base64url")}.${body.toString("base64url")}`;
  }

  open(sealed: string, context: string): Buffer {
    const [v, iv, body] = sealed.split(".");
    if (v !== version || iv === undefined || body === undefined) {
      throw new Error("not a sealed value of this version");
    }
    const bytes = Buffer.from(body, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
  }

  openText(sealed: string, context: string): string {
    return this.open(sealed, context).toString("utf8");
  }
}

/** A purpose-specific key derived from a master key (HKDF-SHA-256), so one secret never does two jobs. */
export function subkey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(
    hkdfSync("sha256", master, Buffer.alloc(0), `kindred-identity/${purpose}`, 32),
  );
}

/** A keyed, deterministic index of a value: equality lookups without storing the value. */
export function blindIndex(key: Buffer, value: string): Buffer {
  return createHmac("sha256", key).update(value).digest();
}

/** An unguessable opaque token: 256 bits, base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** How tokens are stored: SHA-256 (they carry 256 bits of entropy, so no salt or stretching). */
export function tokenHash(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
