import { ConfigError } from "@kindred/config";
import type { ServiceHost } from "./service-host.ts";

export interface MainOptions<C extends { server: { shutdownTimeoutMs: number } }> {
  /** The deployable's name, used on the config error line. */
  name: string;
  /** Reads the configuration; throws `ConfigError` when it is invalid. */
  loadConfig: () => C;
  /** Builds the service (opening no port yet). */
  serve: (config: C) => Promise<ServiceHost> | ServiceHost;
  /** One-shot commands: `node dist/main.js migrate`, `… dead-letters list`; get the rest of argv. */
  commands?: Record<string, (config: C, args: string[]) => Promise<void>>;
  /** Extra time after the shutdown deadline before the process is forced out. */
  graceMs?: number;
}

/** EX_CONFIG from sysexits.h: the configuration is wrong, restarting will not help. */
export const exitConfigError = 78;
const exitUsage = 64;

/**
 * The process entry point of every service: parses the command, loads the configuration (a
 * bad one prints one line naming every bad variable and exits 78, before any port opens),
 * starts the service, and on SIGTERM or SIGINT stops it gracefully and exits 0. This is the
 * only place that may end the process by force: when the stop outlives its deadline.
 */
export async function runMain<C extends { server: { shutdownTimeoutMs: number } }>(
  options: MainOptions<C>,
): Promise<void> {
  const command = process.argv[2] ?? "serve";
  let config: C;
  try {
    config = options.loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kindred-${options.name}: ${err.message}\n`);
      process.exitCode = exitConfigError;
      return;
    }
    throw err;
  }
  if (command !== "serve") {
    const run = options.commands?.[command];
    if (run === undefined) {
      const known = ["serve", ...Object.keys(options.commands ?? {})].join(", ");
      process.stderr.write(
        `kindred-${options.name}: unknown command "${command}" (one of ${known})\n`,
      );
      process.exitCode = exitUsage;
      return;
    }
    try {
      await run(config, process.argv.slice(3));
    } catch (err) {
      process.stderr.write(
        `kindred-${options.name} ${command}: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exitCode = 1;
    }
    return;
  }

  const host = await options.serve(config);
  const deadlineMs = config.server.shutdownTimeoutMs + (options.graceMs ?? 2_000);
  let stopping = false;
  const stop = (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    host.logger.info({ reason }, "shutting down");
    process.exitCode = exitCode;
    setTimeout(() => {
      host.logger.error({ deadlineMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, deadlineMs).unref();
    void host.stop().then(
      () => {
        for (const signal of ["SIGTERM", "SIGINT"] as const) process.removeAllListeners(signal);
        // Anything still holding the event loop open now is a leak: do not hang on it.
        setTimeout(() => process.exit(), 1_000).unref();
      },
      (err: unknown) => {
        host.logger.error({ err }, "shutdown failed");
        process.exitCode = 1;
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM", 0));
  process.on("SIGINT", () => stop("SIGINT", 0));
  process.on("uncaughtException", (err) => {
    host.logger.fatal({ err }, "uncaught exception");
    stop("uncaughtException", 1);
  });
  process.on("unhandledRejection", (err) => {
    host.logger.fatal({ err }, "unhandled rejection");
    stop("unhandledRejection", 1);
  });

  try {
    await host.start();
  } catch (err) {
    host.logger.fatal({ err }, "failed to start");
    stop("start failed", 1);
  }
}
