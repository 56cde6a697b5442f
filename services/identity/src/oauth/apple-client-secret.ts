import { createPrivateKey, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";

export interface AppleSigningSettings {
  /** The Apple Developer team id: the secret's `iss`. */
  teamId: string;
  /** The Services ID the flow runs as: the secret's `sub`. */
  clientId: string;
  /** Id of the Sign in with Apple key: the header's `kid`. */
  keyId: string;
  /** Apple's issuer, `https://appleid.apple.com`: the secret's `aud`. */
  audience: string;
}

/** How long one client secret is valid (Apple allows up to 6 months), and when a new one is minted. */
const lifetimeSeconds = 3_600;
const renewBeforeSeconds = 600;

/**
 * The Sign in with Apple key: an ES256 (P-256) private key in PKCS#8 PEM. A PEM pasted into an
 * environment variable with literal `\n` sequences is accepted. Throws without echoing the value.
 */
export function appleSigningKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem.replaceAll("\\n", "\n").trim(), format: "pem" });
  } catch (err) {
    throw new TypeError("OAUTH_APPLE_PRIVATE_KEY is not a PKCS#8 PEM private key", { cause: err });
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new TypeError("OAUTH_APPLE_PRIVATE_KEY must be an ES256 (P-256) key");
  }
  return key;
}

/** The claims of Apple's client secret (a pure function, so tests can check them). */
export function appleClientSecretClaims(settings: AppleSigningSettings, nowSeconds: number) {
  return {
    iss: settings.teamId,
    sub: settings.clientId,
    aud: settings.audience,
    iat: nowSeconds,
    exp: nowSeconds + lifetimeSeconds,
  };
}

/**
 * Apple's "client secret": not a static string but a short JWT signed with the team's key
 * (https://developer.apple.com/documentation/accountorganizationaldatamanagement/creating-a-client-secret).
 * One is minted on first use and reused until ten minutes before it expires.
 */
export class AppleClientSecret {
  readonly #settings: AppleSigningSettings;
  readonly #key: KeyObject;
  #current: { jwt: string; expiresAt: number } | undefined;

  constructor(settings: AppleSigningSettings, key: KeyObject) {
    this.#settings = settings;
    this.#key = key;
  }

  async get(nowMs = Date.now()): Promise<string> {
    const now = Math.floor(nowMs / 1000);
    if (this.#current !== undefined && this.#current.expiresAt - renewBeforeSeconds > now) {
      return this.#current.jwt;
    }
    const claims = appleClientSecretClaims(this.#settings, now);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: this.#settings.keyId })
      .setIssuer(claims.iss)
      .setSubject(claims.sub)
      .setAudience(claims.aud)
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.exp)
      .sign(this.#key);
    this.#current = { jwt, expiresAt: claims.exp };
    return jwt;
  }
}
