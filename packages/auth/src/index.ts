export { authenticateBearer, bearerToken } from "./bearer.ts";
export { authInterceptor, principalKey, principalOf, requirePrincipal } from "./interceptor.ts";
export { invalidTokenMessage, type Principal, signInFirstMessage } from "./principal.ts";
export {
  type AuthSettings,
  authVars,
  checkAuthSettings,
  jwksShapeProblem,
  toAuthSettings,
} from "./settings.ts";
export {
  type AccessTokenVerifier,
  allowedAlgorithms,
  clockToleranceSeconds,
  createAccessTokenVerifier,
} from "./verifier.ts";
