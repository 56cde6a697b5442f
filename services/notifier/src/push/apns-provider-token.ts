import { createPrivateKey, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";

/**
 * Reused this long. Apple refuses a token older than an hour (`ExpiredProviderToken`) and one
 * renewed more often than every 20 minutes (`TooManyProviderTokenUpdates`).
 */
export const providerTokenReuseMs = 50 * 60_000;
const minRenewalIntervalMs = 20 * 60_000;

export interface ProviderTokenOptions {
  teamId: string;
  keyId: string;
  /** The .p8 key from Apple: PKCS#8 PEM ("BEGIN PRIVATE KEY"), EC P-256. */
  privateKeyPem: string;
  now: () => Date;
}

/**
 * The APNs provider authentication token: a JWT signed ES256 with the team's key (`kid`, `iss`,
 * `iat`, nothing else), shared by every request and renewed after 50 minutes. Concurrent
 * callers share one signing; never log what `current` returns.
 */
export class ProviderToken {
  readonly #key: KeyObject;
  readonly #options: ProviderTokenOptions;
  #token: { jwt: string; issuedAtMs: number } | undefined;
  #signing: Promise<string> | undefined;
  #signed = 0;
  #renewedEarlyAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: ProviderTokenOptions) {
    if (options.teamId === "" || options.keyId === "") {
      throw new TypeError("the APNs team id and key id must not be empty");
    }
    this.#key = signingKey(options.privateKeyPem);
    this.#options = options;
  }

  /** How many tokens were signed so far. */
  get signed(): number {
    return this.#signed;
  }

  /** The token to send now, signed anew when the last one is 50 minutes old. */
  current(): Promise<string> {
    const token = this.#token;
    const nowMs = this.#options.now().getTime();
    if (token !== undefined) {
      const age = nowMs - token.issuedAtMs;
      // A clock that went back is no reason to sign: Apple counts from `iat` on its own clock.
      if (age < providerTokenReuseMs) return Promise.resolve(token.jwt);
    }
    this.#signing ??= this.#sign(nowMs).finally(() => {
      this.#signing = undefined;
    });
    return this.#signing;
  }

  /**
   * The token to send instead of `rejected`, which APNs called expired: signed anew unless a
   * concurrent request already replaced it (a burst of rejections renews once). Renewed early at
   * most once per 20 minutes: a token APNs keeps calling expired means our clock is off, and
   * renewing on every push would only add `TooManyProviderTokenUpdates`. Then `rejected` itself
   * comes back, and is not worth sending again.
   */
  renew(rejected: string): Promise<string> {
    if (this.#token?.jwt === rejected) {
      const nowMs = this.#options.now().getTime();
      if (nowMs - this.#renewedEarlyAtMs < minRenewalIntervalMs) return Promise.resolve(rejected);
      this.#renewedEarlyAtMs = nowMs;
      this.#token = undefined;
    }
    return this.current();
  }

  async #sign(nowMs: number): Promise<string> {
    const { teamId, keyId } = this.#options;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: keyId })
      .setIssuer(teamId)
      .setIssuedAt(Math.floor(nowMs / 1000))
      .sign(this.#key);
    this.#token = { jwt, issuedAtMs: nowMs };
    this.#signed++;
    return jwt;
  }
}

/** The key as a KeyObject, checked once at start so a bad key stops the service, not a push. */
function signingKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    // The parser's message may quote the input: say what is wrong, never what was given.
    throw new TypeError("the APNs signing key is not a PEM private key (PKCS#8, .p8)");
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || (curve !== "prime256v1" && curve !== "P-256")) {
    throw new TypeError("the APNs signing key must be an EC P-256 key (Apple's .p8)");
  }
  return key;
}
