import { argon2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { DomainError } from "@kindred/errors";
import { dictionary } from "@zxcvbn-ts/language-common";

const argon2Async = promisify(argon2);

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. Parameters are kept in each hash. */
const params = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const;

/** The form users type can differ in Unicode composition between devices; hash one form. */
const normalize = (password: string) => password.normalize("NFKC");

async function derive(
  password: string,
  nonce: Buffer,
  p: { memory: number; passes: number; parallelism: number; tagLength: number },
): Promise<Buffer> {
  return argon2Async("argon2id", { message: normalize(password), nonce, ...p });
}

/** An argon2id hash in PHC string form: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, params);
  const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
  return `$argon2id$v=19$m=${params.memory},t=${params.passes},p=${params.parallelism}$${b64(salt)}$${b64(hash)}`;
}

const phcPattern =
  /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const match = phcPattern.exec(phc);
  if (match === null) return false;
  const [, m, t, p, salt, hash] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const expected = Buffer.from(hash, "base64");
  const actual = await derive(password, Buffer.from(salt, "base64"), {
    memory: Number(m),
    passes: Number(t),
    parallelism: Number(p),
    tagLength: expected.length,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A hash of a random password, verified against when the account is unknown or has no
 * password, so such a login costs the same argon2id work as a wrong password.
 */
let dummyHash: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(32).toString("base64"));
  await verifyPassword(password, await dummyHash);
}

/** The 30,000 most common passwords of public breach corpora (zxcvbn's list), lower-cased. */
let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set(dictionary["passwords-common"].map((p) => p.toLowerCase()));
  return common;
}

export const minPasswordLength = 8;

/**
 * ASVS 5.0 §6.2: at least 8 characters (length, not composition rules), not one of the most
 * common breached passwords, and not the account's own e-mail or name. The message says what
 * to do, never what the password was.
 */
export function checkPasswordPolicy(
  password: string,
  context: { email?: string; displayName?: string } = {},
): void {
  const normalized = normalize(password);
  if ([...normalized].length < minPasswordLength) {
    throw new DomainError(
      "invalid_argument",
      `password must be at least ${minPasswordLength} characters long`,
      { reason: "PASSWORD_TOO_SHORT" },
    );
  }
  const lower = normalized.toLowerCase();
  if (commonPasswords().has(lower)) {
    throw new DomainError(
      "invalid_argument",
      "password is too common (it appears in lists of breached passwords); choose another",
      { reason: "PASSWORD_BREACHED" },
    );
  }
  const personal = [context.email, context.email?.split("@")[0], context.displayName]
    .filter((s): s is string => s !== undefined && s.length >= 3)
    .map((s) => s.toLowerCase());
  if (
    personal.some(
      (s) => lower === s || (s.length >= 4 && lower.includes(s) && lower.length - s.length < 4),
    )
  ) {
    throw new DomainError(
      "invalid_argument",
      "password must not be your e-mail address or name; choose another",
      { reason: "PASSWORD_PERSONAL" },
    );
  }
}
