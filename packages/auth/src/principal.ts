/** Who is calling: read from a verified access token, never from what the client merely says. */
export interface Principal {
  /** The user's id (the token's `sub`). */
  readonly userId: string;
  /** The session the token belongs to (`sid`), so a revoked session can be refused. */
  readonly sessionId: string | undefined;
  /**
   * Roles granted when the token was issued (`roles`): identity always includes `member`, and
   * `moderator` or `admin` when granted. Check them with `hasRole` or `requireRole`.
   */
  readonly roles: readonly string[];
  /** When the token stops being valid (`exp`). */
  readonly expiresAt: Date;
}

/** The clients' messages: the same words whichever check failed, so a probe learns nothing. */
export const signInFirstMessage = "sign in first: this call needs an access token";
export const invalidTokenMessage = "the access token is invalid or expired";
