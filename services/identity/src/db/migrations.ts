import type { MigrationList } from "@kindred/database";
import { eventMigrations } from "@kindred/events";
import { type Kysely, sql } from "kysely";

/**
 * Every migration of `kindred_identity`, in order, named `YYYYMMDDTHHMM_what`. Listed explicitly
 * (no folder scanning) so a build always carries exactly the migrations it was tested with.
 */
export const migrations: MigrationList = {
  ...eventMigrations,
  "20261125T1300_accounts": {
    async up(db: Kysely<unknown>) {
      await sql`
        create table app_user (
          id uuid primary key,
          -- AES-256-GCM ciphertext of the normalized e-mail; null once the account is deleted.
          email_ciphertext text,
          -- HMAC-SHA-256 of the normalized e-mail (blind index): the only way to look one up.
          email_index bytea unique,
          display_name text not null,
          bio text not null default '',
          roles text[] not null default '{member}',
          -- argon2id PHC string; null for an account that signs in only through OAuth.
          password_hash text,
          version bigint not null default 1,
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now(),
          deleted_at timestamptz,
          suspended_until timestamptz,
          banned_at timestamptz
        )`.execute(db);
      await sql`
        create table oauth_identity (
          provider text not null,
          subject text not null,
          user_id uuid not null references app_user (id) on delete cascade,
          email_ciphertext text,
          linked_at timestamptz not null default now(),
          primary key (provider, subject),
          unique (user_id, provider)
        )`.execute(db);
      await sql`
        create table session (
          id uuid primary key,
          user_id uuid not null references app_user (id) on delete cascade,
          created_at timestamptz not null default now(),
          last_used_at timestamptz not null default now(),
          idle_expires_at timestamptz not null,
          expires_at timestamptz not null,
          -- When the newest access token of the session expires: how long a revocation matters.
          access_expires_at timestamptz not null,
          generation integer not null default 0,
          revoked_at timestamptz,
          revoke_reason text,
          ip_address text not null default '',
          user_agent text not null default ''
        )`.execute(db);
      await sql`create index session_user_active on session (user_id, last_used_at desc) where revoked_at is null`.execute(
        db,
      );
      await sql`
        create table refresh_token (
          -- SHA-256 of the token: the token itself is never stored.
          token_hash bytea primary key,
          session_id uuid not null references session (id) on delete cascade,
          generation integer not null,
          created_at timestamptz not null default now(),
          -- Set when the token was exchanged; a second use after the grace period is reuse.
          rotated_at timestamptz,
          -- The pair issued for it, encrypted, so a retry within the grace period gets it again.
          successor_ciphertext text
        )`.execute(db);
      await sql`create index refresh_token_session on refresh_token (session_id)`.execute(db);
      await sql`
        create table signing_key (
          kid text primary key,
          alg text not null,
          public_jwk jsonb not null,
          private_key_ciphertext text not null,
          created_at timestamptz not null default now(),
          signs_from timestamptz not null,
          signs_until timestamptz not null,
          -- Stays in the JWKS until the last token it signed has expired.
          published_until timestamptz not null
        )`.execute(db);
      await sql`
        create table user_block (
          blocker_id uuid not null references app_user (id) on delete cascade,
          blocked_id uuid not null references app_user (id) on delete cascade,
          created_at timestamptz not null default now(),
          primary key (blocker_id, blocked_id)
        )`.execute(db);
      await sql`create index user_block_recent on user_block (blocker_id, created_at desc, blocked_id)`.execute(
        db,
      );
      await sql`
        create table audit_event (
          id uuid primary key,
          kind text not null,
          user_id uuid,
          actor_id uuid,
          occurred_at timestamptz not null default now(),
          ip_address text not null default '',
          user_agent text not null default '',
          request_id text not null default '',
          details jsonb not null default '{}'
        )`.execute(db);
      await sql`create index audit_event_recent on audit_event (occurred_at desc, id desc)`.execute(
        db,
      );
      await sql`create index audit_event_user on audit_event (user_id, occurred_at desc, id desc)`.execute(
        db,
      );
      await sql`
        create table oauth_flow (
          state_hash bytea primary key,
          provider text not null,
          code_verifier_ciphertext text not null,
          nonce text not null,
          redirect_uri text not null,
          -- Set when a signed-in user started the flow to link an identity.
          user_id uuid references app_user (id) on delete cascade,
          created_at timestamptz not null default now(),
          expires_at timestamptz not null
        )`.execute(db);
    },
  },
};
