import type { EventTables } from "@kindred/events";
import type { Generated } from "kysely";

/** The tables of `kindred_identity`, as Kysely sees them. */
export interface IdentityDatabase extends EventTables {
  app_user: {
    id: string;
    email_ciphertext: string | null;
    email_index: Buffer | null;
    display_name: string;
    bio: Generated<string>;
    roles: Generated<string[]>;
    password_hash: string | null;
    version: Generated<string>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    deleted_at: Date | null;
    suspended_until: Date | null;
    banned_at: Date | null;
  };
  oauth_identity: {
    provider: string;
    subject: string;
    user_id: string;
    email_ciphertext: string | null;
    linked_at: Generated<Date>;
  };
  session: {
    id: string;
    user_id: string;
    created_at: Generated<Date>;
    last_used_at: Generated<Date>;
    idle_expires_at: Date;
    expires_at: Date;
    access_expires_at: Date;
    generation: Generated<number>;
    revoked_at: Date | null;
    revoke_reason: string | null;
    ip_address: Generated<string>;
    user_agent: Generated<string>;
  };
  refresh_token: {
    token_hash: Buffer;
    session_id: string;
    generation: number;
    created_at: Generated<Date>;
    rotated_at: Date | null;
    successor_ciphertext: string | null;
  };
  signing_key: {
    kid: string;
    alg: string;
    public_jwk: unknown;
    private_key_ciphertext: string;
    created_at: Generated<Date>;
    signs_from: Date;
    signs_until: Date;
    published_until: Date;
  };
  user_block: {
    blocker_id: string;
    blocked_id: string;
    created_at: Generated<Date>;
  };
  audit_event: {
    id: string;
    kind: string;
    user_id: string | null;
    actor_id: string | null;
    occurred_at: Generated<Date>;
    ip_address: string;
    user_agent: string;
    request_id: string;
    details: Record<string, string>;
  };
  oauth_flow: {
    state_hash: Buffer;
    provider: string;
    code_verifier_ciphertext: string;
    nonce: string;
    redirect_uri: string;
    user_id: string | null;
    created_at: Generated<Date>;
    expires_at: Date;
  };
}
