import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DomainError } from "@kindred/errors";
import { AuthProvider, Role, type User } from "@kindred/proto/identity/v1";
import type { Selectable } from "kysely";
import type { IdentityDatabase } from "./db/schema.ts";
import type { EmailVault } from "./pii.ts";

export type UserRow = Selectable<IdentityDatabase["app_user"]>;

/** Platform roles as tokens and events carry them, and as the API enumerates them. */
export const roleNames = ["member", "moderator", "admin"] as const;
export type RoleName = (typeof roleNames)[number];

const roleByName: Record<RoleName, Role> = {
  member: Role.MEMBER,
  moderator: Role.MODERATOR,
  admin: Role.ADMIN,
};

export function roleToProto(name: string): Role {
  return roleByName[name as RoleName] ?? Role.UNSPECIFIED;
}

export function roleFromProto(role: Role): RoleName {
  const name = roleNames.find((n) => roleByName[n] === role);
  if (name === undefined) throw new DomainError("invalid_argument", "roles must be defined roles");
  return name;
}

export const providerNames = { google: AuthProvider.GOOGLE, apple: AuthProvider.APPLE } as const;
export type ProviderName = keyof typeof providerNames;

export function providerFromProto(provider: AuthProvider): ProviderName {
  if (provider === AuthProvider.GOOGLE) return "google";
  if (provider === AuthProvider.APPLE) return "apple";
  throw new DomainError("invalid_argument", "provider must be GOOGLE or APPLE");
}

/** The account as its owner sees it. */
export function toUser(row: UserRow, vault: EmailVault, linked: readonly string[] = []): User {
  return {
    $typeName: "kindred.identity.v1.User",
    id: row.id,
    email: row.email_ciphertext === null ? "" : vault.open(row.email_ciphertext, row.id),
    displayName: row.display_name,
    bio: row.bio,
    roles: row.roles.map(roleToProto),
    linkedProviders: linked.map(
      (p) => providerNames[p as ProviderName] ?? AuthProvider.UNSPECIFIED,
    ),
    version: BigInt(row.version),
    createdAt: timestampFromDate(row.created_at),
  };
}

/** Why an account may not sign in now, as a client-safe error; `undefined` when it may. */
export function restrictionOf(row: UserRow, now = new Date()): DomainError | undefined {
  if (row.banned_at !== null) {
    return new DomainError("permission_denied", "this account is banned", {
      reason: "ACCOUNT_BANNED",
    });
  }
  if (row.suspended_until !== null && row.suspended_until > now) {
    return new DomainError(
      "permission_denied",
      `this account is suspended until ${row.suspended_until.toISOString()}`,
      { reason: "ACCOUNT_SUSPENDED" },
    );
  }
  return undefined;
}
