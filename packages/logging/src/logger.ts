import { pino } from "pino";
import { currentLogContext } from "./context.ts";

export type Logger = pino.Logger;
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** Keys whose values never reach a log line, at any of the first three levels of nesting. */
const secretKeys = [
  "password",
  "currentPassword",
  "newPassword",
  "token",
  "accessToken",
  "refreshToken",
  "idToken",
  "authorization",
  "Authorization",
  "cookie",
  "set-cookie",
  "secret",
  "clientSecret",
  "apiKey",
  "privateKey",
];

export const redactedPaths: readonly string[] = secretKeys.flatMap((key) => {
  const k = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const dot = k.startsWith("[") ? "" : ".";
  return [k, `*${dot}${k}`, `*.*${dot}${k}`];
});

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  destination?: pino.DestinationStream;
}

/**
 * A JSON logger: one object per line with `time` (ISO), `level` (name), `service`, and the
 * current request's `requestId` and `correlationId`. Secrets and tokens are replaced by
 * `[redacted]`.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      messageKey: "msg",
      redact: { paths: [...redactedPaths], censor: "[redacted]" },
      mixin: () => {
        const context = currentLogContext();
        return context === undefined
          ? {}
          : { requestId: context.requestId, correlationId: context.correlationId };
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
