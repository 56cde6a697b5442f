import type { Logger } from "@kindred/logging";
import type { IdentityDeps } from "./deps.ts";

const everyMs = 10 * 60_000;

/**
 * Housekeeping every 10 minutes, on every replica (each step is an idempotent DELETE):
 * audit entries past the retention period, abandoned OAuth flows, and sessions that ended more
 * than a day ago together with their refresh-token history.
 */
export function startMaintenance(deps: IdentityDeps, logger: Logger) {
  let timer: NodeJS.Timeout | undefined;
  const run = async (now = new Date()) => {
    const retentionMs = deps.settings.auditRetentionDays * 86_400_000;
    const audit = await deps.db.kysely
      .deleteFrom("audit_event")
      .where("occurred_at", "<", new Date(now.getTime() - retentionMs))
      .executeTakeFirst();
    const flows = await deps.db.kysely
      .deleteFrom("oauth_flow")
      .where("expires_at", "<", now)
      .executeTakeFirst();
    const sessions = await deps.sessions.purge(now);
    const counts = {
      auditEvents: Number(audit.numDeletedRows),
      oauthFlows: Number(flows.numDeletedRows),
      sessions,
    };
    if (counts.auditEvents + counts.oauthFlows + counts.sessions > 0) {
      logger.info(counts, "identity housekeeping removed expired records");
    }
    return counts;
  };
  return {
    run,
    start() {
      timer = setInterval(() => {
        run().catch((err) => logger.warn({ err }, "identity housekeeping failed"));
      }, everyMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
    },
  };
}
