/**
 * Checks an access token; rejects when it is invalid, expired or revoked. `@kindred/auth`'s
 * verifier is one; tests pass their own.
 */
export interface TokenVerifier {
  verify(token: string): Promise<{ userId: string }>;
}
