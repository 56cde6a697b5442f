import { createHash, randomBytes } from "node:crypto";
import { DomainError } from "@kindred/errors";
import type { InviteRow } from "./mapping.ts";

/** 128 random bits, base64url: 22 characters that fit JoinCircle's `invite_code` rule. */
export const newInviteCode = (): string => randomBytes(16).toString("base64url");

/** Codes are stored as SHA-256 only: they are random enough that a fast hash is safe. */
export const hashInviteCode = (code: string): Buffer => createHash("sha256").update(code).digest();

/** Why an invite cannot be used now, or `undefined` when it can. */
export function inviteProblem(invite: InviteRow, now: Date): DomainError | undefined {
  if (invite.revoked_at !== null) {
    return new DomainError("failed_precondition", "this invite code was revoked", {
      reason: "INVITE_REVOKED",
    });
  }
  if (invite.expires_at !== null && invite.expires_at.getTime() <= now.getTime()) {
    return new DomainError("failed_precondition", "this invite code has expired", {
      reason: "INVITE_EXPIRED",
    });
  }
  if (invite.max_uses !== null && invite.uses >= invite.max_uses) {
    return new DomainError("failed_precondition", "this invite code has been used up", {
      reason: "INVITE_USED_UP",
    });
  }
  return undefined;
}
