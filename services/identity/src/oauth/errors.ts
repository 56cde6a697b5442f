import { DomainError } from "@kindred/errors";

/**
 * The OAuth errors clients see. What the provider actually answered goes into `cause` (logged,
 * never sent), and never a code, token or verifier.
 */
export const invalidState = (cause: string) =>
  new DomainError("invalid_argument", "the OAuth state is invalid or expired; start again", {
    reason: "OAUTH_STATE_INVALID",
    cause: new Error(cause),
  });

export const providerDisabled = (label: string) =>
  new DomainError("failed_precondition", `sign-in with ${label} is not enabled`, {
    reason: "OAUTH_PROVIDER_DISABLED",
  });

export const providerUnavailable = (label: string, cause: unknown) =>
  new DomainError("unavailable", `${label} cannot be reached right now; try again later`, {
    reason: "OAUTH_PROVIDER_UNAVAILABLE",
    cause,
  });

export const codeRejected = (label: string, cause: unknown) =>
  new DomainError("unauthenticated", `${label} did not accept the sign-in; start again`, {
    reason: "OAUTH_CODE_REJECTED",
    cause,
  });

export const idTokenRejected = (label: string, cause: unknown) =>
  new DomainError(
    "unauthenticated",
    `the sign-in with ${label} could not be verified; start again`,
    {
      reason: "OAUTH_ID_TOKEN_INVALID",
      cause,
    },
  );
