/** Who an accepted access token belongs to. */
export interface ClientIdentity {
  /** The user (`sub`). */
  readonly userId: string;
  /**
   * The session the token was issued to (`sid`): its sockets are closed when the session is
   * revoked. Identity's tokens always carry one; a token without it is matched by user only.
   */
  readonly sessionId?: string | undefined;
}

/**
 * Checks an access token; rejects when it is invalid, expired or revoked. `@kindred/auth`'s
 * verifier is one (its `Principal` is a `ClientIdentity`); tests pass their own.
 */
export interface TokenVerifier {
  verify(token: string): Promise<ClientIdentity>;
}
