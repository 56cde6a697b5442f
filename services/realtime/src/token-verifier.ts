/** Who an accepted access token belongs to. */
export interface ClientIdentity {
  /** The user (`sub`). */
  readonly userId: string;
  /**
   * The session the token was issued to (`sid`): its sockets are closed when the session is
   * revoked. Identity's tokens always carry one; a token without it is matched by user only.
   */
  readonly sessionId?: string | undefined;
  /**
   * When the token stops being valid (`exp`): a socket that has not re-authenticated by then is
   * closed (4002). Identity's tokens always carry one; unset (test verifiers), it never expires.
   */
  readonly expiresAt?: Date | undefined;
}

/** What a connection is authenticated with: a verified token and whom it belongs to. */
export interface Credentials extends ClientIdentity {
  /**
   * The access token itself, kept in memory only and never logged: the connection calls other
   * services on its user's behalf with it. Unset only for connections tests build by hand.
   */
  readonly accessToken?: string | undefined;
}

/**
 * Checks an access token; rejects when it is invalid, expired or revoked. `@kindred/auth`'s
 * verifier is one (its `Principal` is a `ClientIdentity`); tests pass their own.
 */
export interface TokenVerifier {
  verify(token: string): Promise<ClientIdentity>;
}
