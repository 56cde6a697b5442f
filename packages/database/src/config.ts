/** How a service reaches its own PostgreSQL database; built by the service's config schema. */
export interface DatabaseConfig {
  /** Full URL of this service's own database (`postgres://user@host:5432/kindred_circles`). */
  url: string;
  /** Secret, read from a mounted file; overrides any password in `url`. */
  password?: string;
  /** Upper bound on connections from this process; the server's limit is shared by all pods. */
  poolMax: number;
  /** Fail a connection attempt (and a wait for a free pooled connection) after this long. */
  connectTimeoutMs: number;
  /** Server-side cap on one statement, so a runaway query cannot hold a connection forever. */
  statementTimeoutMs: number;
  /** Close pooled connections idle for this long. */
  idleTimeoutMs: number;
  /** Shown in `pg_stat_activity`, to tell which service holds a connection or a lock. */
  applicationName: string;
}
