import { clockToleranceSeconds } from "./verifier.ts";

/** What the verifier asks of a revocation list; `SessionRevocations` is the one in memory. */
export interface RevocationList {
  /** Whether tokens of the session must be refused at `now` (default: the current time). */
  isRevoked(sessionId: string, now?: Date): boolean;
}

export interface SessionRevocationsOptions {
  /** The clock; tests move it. Default `Date.now`. */
  now?: () => number;
  /**
   * How long an entry outlives its `until`: the verifier forgives this much clock skew on
   * `exp`, so a token of a revoked session can pass the expiry check that long after `until`.
   */
  toleranceMs?: number;
  /** At most this often, a `revoke` also drops the entries that have run out. Default 60 s. */
  pruneIntervalMs?: number;
}

/**
 * The sessions whose access tokens are refused although they have not expired: `sid` → until
 * when (the expiry of the session's last token). Kept in memory by every process that verifies
 * tokens and filled from identity's `SessionRevoked` events. An entry is only needed until its
 * tokens expire, so entries that ran out are dropped as new ones arrive: the list holds about
 * one access-token lifetime of revocations, however long the process runs.
 */
export class SessionRevocations implements RevocationList {
  readonly #until = new Map<string, number>();
  readonly #now: () => number;
  readonly #toleranceMs: number;
  readonly #pruneIntervalMs: number;
  #nextPrune: number;

  constructor(options: SessionRevocationsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#toleranceMs = options.toleranceMs ?? clockToleranceSeconds * 1_000;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
    this.#nextPrune = this.#now() + this.#pruneIntervalMs;
  }

  /**
   * Refuses the session's tokens until `until` (plus the tolerance). Revoking a session twice
   * keeps the later time; a revocation that has already run out is ignored.
   */
  revoke(sessionId: string, until: Date): void {
    const now = this.#now();
    if (now >= this.#nextPrune) this.prune(now);
    const end = until.getTime() + this.#toleranceMs;
    if (Number.isNaN(end) || end <= now) return;
    const known = this.#until.get(sessionId);
    if (known === undefined || known < end) this.#until.set(sessionId, end);
  }

  isRevoked(sessionId: string, now: Date = new Date(this.#now())): boolean {
    const end = this.#until.get(sessionId);
    return end !== undefined && now.getTime() < end;
  }

  /** Drops the entries that have run out; returns how many. */
  prune(now: number = this.#now()): number {
    this.#nextPrune = now + this.#pruneIntervalMs;
    let dropped = 0;
    for (const [sessionId, end] of this.#until) {
      if (end <= now) {
        this.#until.delete(sessionId);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Entries held, including any that ran out since the last prune. */
  get size(): number {
    return this.#until.size;
  }
}
