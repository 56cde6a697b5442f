import { randomUUID } from "node:crypto";
import {
  type AccessTokenVerifier,
  allowedAlgorithms,
  clockToleranceSeconds,
  invalidTokenMessage,
  type Principal,
  signInFirstMessage,
} from "@kindred/auth";
import type { Database } from "@kindred/database";
import { DomainError } from "@kindred/errors";
import { importJWK, jwtVerify, SignJWT } from "jose";
import type { IdentityDatabase } from "./db/schema.ts";
import { type SigningKeys, signingAlgorithm } from "./signing-keys.ts";

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface IssuedAccessToken {
  token: string;
  expiresAt: Date;
}

/**
 * Mints access tokens: JWTs (RFC 9068 `at+jwt`) signed with the current rotating key, carrying
 * `iss` `aud` `sub` `sid` `roles` `iat` `nbf` `exp` `jti` and the key's `kid` in the header.
 */
export class AccessTokens {
  readonly #keys: SigningKeys;
  readonly #settings: AccessTokenSettings;

  constructor(keys: SigningKeys, settings: AccessTokenSettings) {
    this.#keys = keys;
    this.#settings = settings;
  }

  get ttlSeconds(): number {
    return this.#settings.ttlSeconds;
  }

  async mint(claims: {
    userId: string;
    sessionId: string;
    roles: readonly string[];
    now?: number;
  }): Promise<IssuedAccessToken> {
    const now = claims.now ?? Date.now();
    const key = await this.#keys.current(now);
    const iat = Math.floor(now / 1000);
    const exp = iat + this.#settings.ttlSeconds;
    const token = await new SignJWT({ sid: claims.sessionId, roles: [...claims.roles] })
      .setProtectedHeader({ alg: signingAlgorithm, kid: key.kid, typ: "at+jwt" })
      .setIssuer(this.#settings.issuer)
      .setAudience(this.#settings.audience)
      .setSubject(claims.userId)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }
}

/**
 * How identity checks the tokens it issued: the same rules as every other service
 * (`@kindred/auth`), against its own key table rather than over HTTP, and — since the session
 * table is right here — a revoked or expired session is refused at once.
 */
export function identityTokenVerifier(
  keys: SigningKeys,
  settings: AccessTokenSettings,
  db: Database<IdentityDatabase>,
): AccessTokenVerifier {
  return {
    async verify(token) {
      if (token === "") throw new DomainError("unauthenticated", signInFirstMessage);
      try {
        const { payload } = await jwtVerify(
          token,
          async (header) => {
            const jwk = header.kid === undefined ? undefined : keys.publicKey(header.kid);
            if (jwk === undefined) throw new Error(`unknown kid ${header.kid}`);
            return importJWK(jwk, header.alg);
          },
          {
            issuer: settings.issuer,
            audience: settings.audience,
            algorithms: [...allowedAlgorithms],
            clockTolerance: clockToleranceSeconds,
            requiredClaims: ["exp", "sub", "sid"],
          },
        );
        const { sub, sid, roles, exp } = payload;
        if (typeof sub !== "string" || typeof sid !== "string") throw new TypeError("bad sub/sid");
        if (!Array.isArray(roles) || !roles.every((r) => typeof r === "string")) {
          throw new TypeError('"roles" must be an array of strings');
        }
        const session = await db.kysely
          .selectFrom("session")
          .select(["revoked_at", "expires_at", "user_id"])
          .where("id", "=", sid)
          .executeTakeFirst();
        if (session === undefined || session.user_id !== sub) throw new Error("unknown session");
        if (session.revoked_at !== null) throw new Error("session revoked");
        const principal: Principal = Object.freeze({
          userId: sub,
          sessionId: sid,
          roles: Object.freeze([...(roles as string[])]),
          expiresAt: new Date((exp as number) * 1000),
        });
        return principal;
      } catch (err) {
        throw new DomainError("unauthenticated", invalidTokenMessage, { cause: err });
      }
    },
  };
}
