import type { ForcedCloseReason } from "./metrics.ts";

/** What the registry needs of a connection. */
export interface UserConnection {
  /** Lower-case. */
  readonly userId: string;
  /** Lower-case; undefined for a token without `sid`. */
  readonly sessionId: string | undefined;
  /** Closes the socket from the server side (no-op when it is closing already). */
  close(code: number, reason: string, why: ForcedCloseReason): void;
}

/** The latest block event in one direction between two users. */
interface BlockState {
  blocked: boolean;
  /** Its IDENTITY stream sequence: blocks and unblocks are read by separate subscriptions. */
  sequence: number;
}

/**
 * One user while they have connections on this instance: those connections (a user may be
 * signed in on several devices) and whom they must not see live, as learned from identity's
 * block events since the first of those connections opened. The state goes when the last
 * connection closes: realtime keeps nothing about users it does not serve.
 */
export class ConnectedUser {
  readonly userId: string;
  readonly connections = new Set<UserConnection>();
  /** Per other user: the last block event by this user (`mine`) and by the other (`theirs`). */
  readonly #blocks = new Map<string, { mine?: BlockState; theirs?: BlockState }>();

  constructor(userId: string) {
    this.userId = userId;
  }

  /** Whether live frames authored by `userId` are withheld: either of the two blocked the other. */
  hides(userId: string): boolean {
    const pair = this.#blocks.get(userId.toLowerCase());
    return pair?.mine?.blocked === true || pair?.theirs?.blocked === true;
  }

  /**
   * Records a block or unblock between this user and `other`, made by this user (`mine`) or by
   * the other (`theirs`). Blocks and unblocks arrive on two subscriptions, so possibly out of
   * order: an event older (by stream sequence) than the one already applied in the same
   * direction is ignored.
   */
  applyBlock(other: string, direction: "mine" | "theirs", blocked: boolean, sequence: number) {
    const pair = this.#blocks.get(other) ?? {};
    const known = pair[direction];
    if (known !== undefined && known.sequence >= sequence) return;
    pair[direction] = { blocked, sequence };
    this.#blocks.set(other, pair);
  }
}

/** The connections of this instance by user and by session, and each connected user's blocks. */
export class ConnectedUsers {
  readonly #users = new Map<string, ConnectedUser>();
  readonly #sessions = new Map<string, Set<UserConnection>>();

  /** Registers an opened connection; returns its user's entry, shared with their other ones. */
  attach(connection: UserConnection): ConnectedUser {
    let user = this.#users.get(connection.userId);
    if (user === undefined) {
      user = new ConnectedUser(connection.userId);
      this.#users.set(connection.userId, user);
    }
    user.connections.add(connection);
    if (connection.sessionId !== undefined) {
      let session = this.#sessions.get(connection.sessionId);
      if (session === undefined) {
        session = new Set();
        this.#sessions.set(connection.sessionId, session);
      }
      session.add(connection);
    }
    return user;
  }

  /** Forgets a closed connection, and its user once it was their last one here. */
  detach(connection: UserConnection): void {
    const user = this.#users.get(connection.userId);
    if (user !== undefined) {
      user.connections.delete(connection);
      if (user.connections.size === 0) this.#users.delete(connection.userId);
    }
    if (connection.sessionId !== undefined) {
      const session = this.#sessions.get(connection.sessionId);
      session?.delete(connection);
      if (session?.size === 0) this.#sessions.delete(connection.sessionId);
    }
  }

  /**
   * Files `connection` under its new session after a re-authentication with a token of another
   * session of the same user (`previous`: the session it was filed under).
   */
  moveSession(connection: UserConnection, previous: string | undefined): void {
    if (previous === connection.sessionId) return;
    if (previous !== undefined) {
      const session = this.#sessions.get(previous);
      session?.delete(connection);
      if (session?.size === 0) this.#sessions.delete(previous);
    }
    if (connection.sessionId !== undefined) {
      let session = this.#sessions.get(connection.sessionId);
      if (session === undefined) {
        session = new Set();
        this.#sessions.set(connection.sessionId, session);
      }
      session.add(connection);
    }
  }

  /** The open connections of a user on this instance. */
  ofUser(userId: string): UserConnection[] {
    return [...(this.#users.get(userId.toLowerCase())?.connections ?? [])];
  }

  /** The open connections authenticated with a session's tokens. */
  ofSession(sessionId: string): UserConnection[] {
    return [...(this.#sessions.get(sessionId.toLowerCase()) ?? [])];
  }

  /** Applies identity's block (`blocked`) or unblock event to whichever of the two is here. */
  applyBlock(blockerId: string, blockedId: string, blocked: boolean, sequence: number): void {
    const blocker = blockerId.toLowerCase();
    const target = blockedId.toLowerCase();
    if (blocker === target) return;
    this.#users.get(blocker)?.applyBlock(target, "mine", blocked, sequence);
    this.#users.get(target)?.applyBlock(blocker, "theirs", blocked, sequence);
  }

  /** Users with at least one connection here. */
  get size(): number {
    return this.#users.size;
  }
}
