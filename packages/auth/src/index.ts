export { authenticateBearer, type BearerRefusal, bearerRefusal, bearerToken } from "./bearer.ts";
export { authInterceptor, principalKey, principalOf, requirePrincipal } from "./interceptor.ts";
export { invalidTokenMessage, type Principal, signInFirstMessage } from "./principal.ts";
export { hasRole, missingRoleMessage, type RoleName, requireRole, roleNames } from "./roles.ts";
export {
  type RevocationList,
  SessionRevocations,
  type SessionRevocationsOptions,
} from "./session-revocations.ts";
export {
  type AuthSettings,
  authVars,
  checkAuthSettings,
  defaultRevocationLookbackMs,
  jwksShapeProblem,
  toAuthSettings,
} from "./settings.ts";
export {
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  allowedAlgorithms,
  clockToleranceSeconds,
  createAccessTokenVerifier,
  defaultVerifiedTokenCacheSize,
  SessionRevokedError,
} from "./verifier.ts";
