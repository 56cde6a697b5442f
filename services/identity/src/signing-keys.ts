import { randomUUID } from "node:crypto";
import type { Database } from "@kindred/database";
import type { Logger } from "@kindred/logging";
import {
  type CryptoKey,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importPKCS8,
  type JWK,
} from "jose";
import { sql } from "kysely";
import type { SecretBox } from "./crypto.ts";
import type { IdentityDatabase } from "./db/schema.ts";

export interface SigningKeyPolicy {
  /** How long one key signs. */
  rotationSeconds: number;
  /** How long a key is published before it signs: longer than verifiers cache the JWKS. */
  publishLeadSeconds: number;
  /** The access-token lifetime: a retired key stays published this much longer (plus skew). */
  tokenTtlSeconds: number;
}

interface LoadedKey {
  kid: string;
  signsFrom: number;
  signsUntil: number;
  publishedUntil: number;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

export const signingAlgorithm = "EdDSA";
const skewMs = 60_000;
/** Serializes key creation across identity replicas (any constant, unique within the database). */
const rotationLockId = 0x6b696e64;

/**
 * The keys access tokens are signed with, rotated on a schedule. Each key is published in the
 * JWKS `publishLeadSeconds` before it starts signing (verifiers fetch it before they meet a
 * token it signed), signs for `rotationSeconds`, and stays published until the last token it
 * signed has expired. Private keys are stored encrypted with the key-encryption key, bound to
 * their `kid`. Replicas agree on which key signs because the schedule is in the database.
 */
export class SigningKeys {
  readonly #db: Database<IdentityDatabase>;
  readonly #box: SecretBox;
  readonly #policy: SigningKeyPolicy;
  readonly #logger: Logger;
  #keys: LoadedKey[] = [];
  #timer: NodeJS.Timeout | undefined;
  #maintaining: Promise<void> | undefined;

  constructor(deps: {
    db: Database<IdentityDatabase>;
    box: SecretBox;
    policy: SigningKeyPolicy;
    logger: Logger;
  }) {
    this.#db = deps.db;
    this.#box = deps.box;
    this.#policy = deps.policy;
    this.#logger = deps.logger;
  }

  /** Creates what the schedule needs now and loads the published keys. */
  maintain(now = Date.now()): Promise<void> {
    this.#maintaining ??= (async () => {
      try {
        await this.#ensure(now);
        await this.#load(now);
      } finally {
        this.#maintaining = undefined;
      }
    })();
    return this.#maintaining;
  }

  /** Keeps the schedule ahead of time in the background. */
  start(): void {
    const everyMs = Math.max(
      500,
      Math.min(
        60_000,
        (this.#policy.rotationSeconds * 1000) / 4,
        this.#policy.publishLeadSeconds * 500,
      ),
    );
    this.#timer = setInterval(() => {
      this.maintain().catch((err) => this.#logger.warn({ err }, "signing key maintenance failed"));
    }, everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The key that signs now; runs maintenance first if the loaded schedule has run out. */
  async current(now = Date.now()): Promise<{ kid: string; privateKey: CryptoKey }> {
    let key = this.#signing(now);
    if (key === undefined) {
      await this.maintain(now);
      key = this.#signing(now);
    }
    if (key === undefined) throw new Error("no signing key is active");
    return key;
  }

  /** The public keys verifiers must know now: signing, about to sign, and recently retired. */
  jwks(now = Date.now()): { keys: JWK[] } {
    return {
      keys: this.#keys.filter((k) => k.publishedUntil > now).map((k) => k.publicJwk),
    };
  }

  /** Public keys by `kid`, for identity's own verification of the tokens it issued. */
  publicKey(kid: string, now = Date.now()): JWK | undefined {
    return this.#keys.find((k) => k.kid === kid && k.publishedUntil > now)?.publicJwk;
  }

  #signing(now: number): LoadedKey | undefined {
    return this.#keys.find((k) => k.signsFrom <= now && now < k.signsUntil);
  }

  async #ensure(now: number): Promise<void> {
    const { rotationSeconds, publishLeadSeconds, tokenTtlSeconds } = this.#policy;
    const rotationMs = rotationSeconds * 1000;
    await this.#db.transaction(async (trx) => {
      await sql`select pg_advisory_xact_lock(${rotationLockId})`.execute(trx);
      const nowDate = new Date(now);
      await trx.deleteFrom("signing_key").where("published_until", "<=", nowDate).execute();
      const keys = await trx
        .selectFrom("signing_key")
        .select(["kid", "signs_from", "signs_until"])
        .where("signs_until", ">", nowDate)
        .orderBy("signs_from")
        .execute();
      const create = async (signsFrom: number) => {
        const signsUntil = signsFrom + rotationMs;
        const kid = `k-${randomUUID()}`;
        const { publicKey, privateKey } = await generateKeyPair(signingAlgorithm, {
          crv: "Ed25519",
          extractable: true,
        });
        const publicJwk = {
          ...(await exportJWK(publicKey)),
          kid,
          alg: signingAlgorithm,
          use: "sig",
        };
        await trx
          .insertInto("signing_key")
          .values({
            kid,
            alg: signingAlgorithm,
            public_jwk: JSON.stringify(publicJwk),
            private_key_ciphertext: this.#box.seal(
              await exportPKCS8(privateKey),
              `signing-key:${kid}`,
            ),
            signs_from: new Date(signsFrom),
            signs_until: new Date(signsUntil),
            published_until: new Date(signsUntil + tokenTtlSeconds * 1000 + skewMs),
          })
          .execute();
        this.#logger.info(
          { kid, signsFrom: new Date(signsFrom), signsUntil: new Date(signsUntil) },
          "signing key created",
        );
        return signsUntil;
      };
      // No key signing now (first start, or a long outage): one must sign at once, as there is
      // no earlier key to bridge its publication lead.
      let end = Math.max(0, ...keys.map((k) => k.signs_until.getTime()));
      if (!keys.some((k) => k.signs_from.getTime() <= now)) end = Math.max(end, await create(now));
      // The successor exists as soon as it is within its lead of signing.
      while (end - now <= publishLeadSeconds * 1000) end = await create(end);
    });
  }

  async #load(now: number): Promise<void> {
    const rows = await this.#db.kysely
      .selectFrom("signing_key")
      .selectAll()
      .where("published_until", ">", new Date(now))
      .orderBy("signs_from")
      .execute();
    const loaded: LoadedKey[] = [];
    for (const row of rows) {
      const known = this.#keys.find((k) => k.kid === row.kid);
      const pem =
        known === undefined
          ? this.#box.openText(row.private_key_ciphertext, `signing-key:${row.kid}`)
          : undefined;
      loaded.push({
        kid: row.kid,
        signsFrom: row.signs_from.getTime(),
        signsUntil: row.signs_until.getTime(),
        publishedUntil: row.published_until.getTime(),
        publicJwk: row.public_jwk as JWK,
        privateKey: known?.privateKey ?? (await importPKCS8(pem as string, signingAlgorithm)),
      });
    }
    this.#keys = loaded;
  }
}
