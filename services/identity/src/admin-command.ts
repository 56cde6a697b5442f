import { Database } from "@kindred/database";
import { eventNamespace, Outbox } from "@kindred/events";
import { createLogger } from "@kindred/logging";
import type { Transaction } from "kysely";
import { setRoles } from "./accounts.ts";
import type { IdentityConfig } from "./config.ts";
import type { IdentityDatabase } from "./db/schema.ts";
import { EmailVault, normalizeEmail } from "./pii.ts";
import { systemRequest } from "./request-meta.ts";
import { revokeSessions } from "./sessions.ts";
import { type RoleName, roleNames } from "./users.ts";

const usage = `usage: grant-role <email> <role> | revoke-role <email> <role> | revoke-sessions <email>   (role: ${roleNames.join(", ")})`;

const operatorRequest = { ...systemRequest, userAgent: "kindred-identity admin command" };

/** A short-lived connection to identity's database, for one operator command. */
function operatorDatabase(config: IdentityConfig) {
  const settings = config.database;
  return Database.create<IdentityDatabase>(
    {
      url: settings.url,
      ...(settings.password === undefined ? {} : { password: settings.password }),
      poolMax: 1,
      connectTimeoutMs: settings.connectTimeoutMs,
      statementTimeoutMs: settings.statementTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs,
      applicationName: `${settings.applicationName}-admin`,
    },
    { logger: createLogger({ service: "identity", level: "warn" }) },
  );
}

async function userByEmail(
  trx: Transaction<IdentityDatabase>,
  vault: EmailVault,
  email: string,
): Promise<{ id: string; roles: string[] }> {
  const user = await trx
    .selectFrom("app_user")
    .select(["id", "roles"])
    .where("email_index", "=", vault.index(normalizeEmail(email)))
    .where("deleted_at", "is", null)
    .forUpdate()
    .executeTakeFirst();
  if (user === undefined) throw new Error("no account has that e-mail address");
  return user;
}

/**
 * Ends every session of a user at once (ASVS 7.4.5): `npm run admin -- revoke-sessions <email>`,
 * for an account an operator believes is taken over. The revocations reach every verifier
 * through `identity.session.revoked.v1` like any other.
 */
export async function runRevokeSessionsCommand(
  config: IdentityConfig,
  args: readonly string[],
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  const [email] = args;
  if (email === undefined || args.length !== 1) throw new Error(usage);
  const vault = new EmailVault(config.identity.piiKey);
  const outbox = new Outbox("identity", eventNamespace(config.events.namespace));
  await using db = operatorDatabase(config);
  const revoked = await db.transaction(async (trx) => {
    const user = await userByEmail(trx, vault, email);
    return revokeSessions(outbox, trx, user.id, "revoked_by_operator", operatorRequest, {
      actorId: null,
    });
  });
  out(`revoked ${revoked.length} session(s)`);
}

/**
 * The operator's way to make the first admin (and to fix roles when no admin can sign in):
 * `npm run admin -- grant-role <email> admin`. It writes the same event and audit entry as
 * SetRoles, with no actor (the audit's `actor_id` is empty and `details.via` is `operator`);
 * the running identity service publishes the event from its outbox.
 */
export async function runRoleCommand(
  config: IdentityConfig,
  action: "grant" | "revoke",
  args: readonly string[],
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  const [rawEmail, rawRole] = args;
  if (rawEmail === undefined || rawRole === undefined || args.length !== 2) throw new Error(usage);
  const role = rawRole.toLowerCase() as RoleName;
  if (!roleNames.includes(role)) throw new Error(`unknown role "${rawRole}"; ${usage}`);
  if (action === "revoke" && role === "member")
    throw new Error("every account keeps the member role");
  const vault = new EmailVault(config.identity.piiKey);
  await using db = operatorDatabase(config);
  const outbox = new Outbox("identity", eventNamespace(config.events.namespace));
  const roles = await db.transaction(async (trx) => {
    const user = await userByEmail(trx, vault, rawEmail);
    const next = (
      action === "grant" ? [...user.roles, role] : user.roles.filter((r) => r !== role)
    ) as RoleName[];
    const row = await setRoles({ outbox }, trx, user.id, next, null, operatorRequest);
    return row.roles;
  });
  out(`roles are now: ${roles.join(", ")}`);
}
